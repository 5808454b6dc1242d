"""``parley cluster up`` / ``down`` refuse what cannot be done, in one line
(the cluster itself is started and killed by tests/e2e/test_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from parley.cli import main


def test_down_without_a_running_cluster_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["cluster", "down", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no cluster is running from" in result.output


def test_up_refuses_a_folder_whose_cluster_is_running(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text("{}")
    result = CliRunner().invoke(main, ["cluster", "up", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "a cluster is running from" in result.output

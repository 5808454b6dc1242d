"""compose.yaml runs commands the CLI really has."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import yaml

from parley.cli import main

COMPOSE = Path(__file__).parents[2] / "compose.yaml"
DOCKERFILE = COMPOSE.parent / "Dockerfile"
PYPROJECT = COMPOSE.parent / "pyproject.toml"


def parley_commands(service: dict[str, object]) -> list[str]:
    """The `parley <command>` invocations in a service's command."""
    command = service.get("command", [])
    words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
    text = " ".join(words)
    found = []
    for part in text.replace("&&", ";").split(";"):
        tokens = shlex.split(part.replace("exec ", ""))
        if "parley" in tokens:
            found.append(tokens[tokens.index("parley") + 1])
    return found


def test_every_parley_service_runs_an_existing_command() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    used = {name: parley_commands(s) for name, s in services.items() if s.get("build")}
    assert used == {"parley": ["migrate", "serve"], "worker": ["worker"]}
    for commands in used.values():
        assert set(commands) <= set(main.commands)


def test_the_database_and_nats_have_health_checks_the_server_waits_for() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "nats"} <= set(services)
    for name in ("postgres", "nats", "parley", "worker"):
        assert "healthcheck" in services[name], name
    worker_check = services["worker"]["healthcheck"]["test"]
    assert worker_check[1:4] == ["parley", "projections", "status"]
    assert "status" in main.commands["projections"].commands  # type: ignore[attr-defined]
    assert services["parley"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_server_and_the_worker_share_the_blob_folder() -> None:
    """Uploads land in the server's blob folder; the worker's image checker
    reads them there (docs/OPERATIONS.md, "Attachments and the blob store")."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    mounts = {name: set(services[name].get("volumes", [])) for name in ("parley", "worker")}
    assert "blob-data:/data/blobs" in mounts["parley"] & mounts["worker"]
    assert "PARLEY_DATA_DIR=/data" in DOCKERFILE.read_text()  # blobs: /data/blobs


def test_the_image_copies_every_package_it_installs() -> None:
    packages = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["packages"]["find"]
    copied = {
        line.split()[1] for line in DOCKERFILE.read_text().splitlines() if line.startswith("COPY ")
    }
    assert {p.rstrip("*") for p in packages["include"]} <= copied

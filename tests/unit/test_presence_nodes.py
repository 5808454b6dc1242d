"""Liveness of presence nodes: silence counts only while this node was awake."""

from __future__ import annotations

from ws_edge.presence_nodes import Nodes

TTL = 30.0
INTERVAL = 1.0


def swept_every_second(nodes: Nodes, start: float, end: float) -> None:
    t = start
    while t <= end:
        assert nodes.woke(t, INTERVAL) == 0.0
        t += INTERVAL


def test_a_node_silent_for_a_ttl_is_dead() -> None:
    nodes = Nodes(TTL)
    nodes.heard["a"] = 100.0
    swept_every_second(nodes, 100.0, 140.0)
    assert not nodes.silent("a", 129.0)
    assert nodes.silent("a", 130.0)
    assert not nodes.silent("unknown", 1000.0)


def test_a_late_sweep_is_a_pause_and_the_pause_is_nobodys_silence() -> None:
    nodes = Nodes(TTL)
    nodes.heard["a"] = 100.0
    swept_every_second(nodes, 100.0, 105.0)
    assert nodes.woke(150.0, INTERVAL) == 45.0  # frozen from 105 to 150
    assert nodes.silence(100.0, 150.0) == 5.0
    assert not nodes.silent("a", 150.0)
    # A heartbeat sent during the pause (queued until now) is as fresh as the thaw...
    assert nodes.silence(140.0, 150.0) == 0.0
    # ...and a node heard of last before the pause is dead after a TTL of listening.
    swept_every_second(nodes, 151.0, 174.0)
    assert not nodes.silent("a", 174.0)
    nodes.woke(175.0, INTERVAL)
    assert nodes.silent("a", 175.0)


def test_a_little_late_is_no_pause() -> None:
    nodes = Nodes(TTL)
    assert nodes.woke(0.0, INTERVAL) == 0.0  # the first sweep
    assert nodes.woke(1.0 + TTL / 10, INTERVAL) == 0.0
    assert nodes.woke(2.0 + 2 * TTL / 10 + 0.1, INTERVAL) > 0.0


def test_a_pause_that_ended_a_ttl_ago_is_forgotten_and_changes_no_verdict() -> None:
    nodes = Nodes(TTL)
    nodes.woke(0.0, INTERVAL)
    assert nodes.woke(60.0, INTERVAL) == 60.0
    swept_every_second(nodes, 61.0, 89.0)
    assert nodes.silence(10.0, 89.0) == 29.0
    assert nodes.silence(10.0, 90.0) == 30.0  # dead by then, pause or no pause
    swept_every_second(nodes, 90.0, 95.0)
    assert nodes.silence(10.0, 95.0) == 85.0  # the pause is forgotten

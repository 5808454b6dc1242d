"""Random bytes drawn in chunks (events.randomness): each byte handed out
once, in the order the source gave them, and never again in a forked child."""

from __future__ import annotations

import os

from events.randomness import RandomBytes


def test_bytes_are_handed_out_once_in_order_and_refilled_as_needed() -> None:
    calls: list[int] = []
    counter = iter(range(1 << 20))

    def source(n: int) -> bytes:
        calls.append(n)
        return bytes(next(counter) % 256 for _ in range(n))

    drawn = RandomBytes(source)
    nonces = [drawn.take(12) for _ in range(1000)]
    per_chunk = RandomBytes.CHUNK // 12 * 12  # 341 nonces; a chunk's last 4 bytes are dropped
    given = range(3 * RandomBytes.CHUNK)
    used = [i for i in given if i % RandomBytes.CHUNK < per_chunk][:12_000]
    assert b"".join(nonces) == bytes(i % 256 for i in used)
    assert calls == [RandomBytes.CHUNK] * 3
    assert drawn.take(10_000) and calls[-1] == 10_000  # more than a chunk at once


def test_a_forked_child_never_reuses_its_parents_bytes() -> None:
    drawn = RandomBytes(os.urandom)
    drawn.take(12)  # the buffer is filled before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, drawn.take(12))
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    from_child = os.read(read, 12)
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0 and len(from_child) == 12
    assert from_child != drawn.take(12)

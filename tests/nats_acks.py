"""Tampering with JetStream publish acks on the wire, for a :class:`FaultProxy`
between a NATS client and the server (``proxy.rewrite_replies``).

The server's bytes are cut into NATS protocol frames; each ``MSG`` whose
payload is a publish ack (``{"stream": …, "seq": n}``, maybe ``"duplicate"``)
goes through ``tamper(seq, payload)``, which returns the payload to deliver
(maybe another) or ``None`` to lose the ack. Everything else passes unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

Tamper = Callable[[int, bytes], bytes | None]

_ACK_KEYS = {"stream", "seq", "duplicate", "domain"}


class AckTamper:
    """One connection's server-to-client bytes, acks tampered with."""

    def __init__(self, tamper: Tamper) -> None:
        self._tamper = tamper
        self._buffer = bytearray()

    def __call__(self, chunk: bytes) -> bytes:
        self._buffer += chunk
        out = bytearray()
        while (frame := self._next_frame()) is not None:
            out += frame
        return bytes(out)

    def _next_frame(self) -> bytes | None:
        """The next whole frame, rewritten (``b""`` when lost), or None until
        more bytes arrive."""
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self._buffer[:end])
        op = line.split(b" ", 1)[0].upper()
        if op not in (b"MSG", b"HMSG"):
            del self._buffer[: end + 2]
            return line + b"\r\n"
        fields = line.split()
        size = end + 2 + int(fields[-1]) + 2
        if len(self._buffer) < size:
            return None
        frame = bytes(self._buffer[:size])
        del self._buffer[:size]
        payload = frame[end + 2 : -2]
        seq = _ack_seq(payload) if op == b"MSG" else None
        if seq is None:
            return frame
        changed = self._tamper(seq, payload)
        if changed is None:
            return b""
        fields[-1] = str(len(changed)).encode()
        return b" ".join(fields) + b"\r\n" + changed + b"\r\n"


def _ack_seq(payload: bytes) -> int | None:
    """The stream sequence a publish ack confirms, if ``payload`` is one."""
    if not payload.startswith(b"{"):
        return None
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(decoded, dict) or not {"stream", "seq"} <= decoded.keys() <= _ACK_KEYS:
        return None
    return int(decoded["seq"])

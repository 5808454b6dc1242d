"""A WebSocket client on a raw TCP socket, for what client libraries hide:
reading nothing for a while (they read on in the background), or sending
bytes no library would (invalid UTF-8 in a text frame).

It speaks the whole server side of RFC 6455 a peer may send: text and binary
messages, fragmented or not (continuation frames), PING (answered with PONG),
PONG (unsolicited or late: skipped) and CLOSE.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import AsyncIterator

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A client frame (clients must mask what they send)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSocket:
    def __init__(self, server_url: str, path: str, token: str) -> None:
        self._url, self._path, self._token = server_url, path, token
        self.pings_seen = 0

    async def open(self, receive_buffer: int | None = None) -> None:
        """Connect and upgrade; ``receive_buffer`` shrinks the kernel's
        receive buffer (so what the server sends piles up on its side)."""
        host, port = self._url.removeprefix("http://").split(":")
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self._reader, self._writer = await asyncio.open_connection(
            sock=sock, limit=receive_buffer or 2**16
        )
        self._writer.write(
            (
                f"GET {self._path}?token={self._token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
            ).encode()
        )
        status = await self._reader.readuntil(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 101"), status

    async def send(self, opcode: int, payload: bytes) -> None:
        self._writer.write(encode_frame(opcode, payload))
        await self._writer.drain()

    async def messages(
        self, timeout: float, *, answer_pings: bool = True
    ) -> AsyncIterator[tuple[int, bytes]]:
        """(opcode, payload) of each message (TEXT, BINARY) and of the CLOSE
        frame, from now on, until the connection ends; control frames in
        between are handled here (PING answered, or skipped when catching up
        with a backlog the server may have given up on: a PONG written to a
        server that has closed makes it reset the connection; PONG skipped)."""
        opcode, parts = None, b""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    frame_fin, frame_opcode, payload = await self._frame()
                except (asyncio.IncompleteReadError, ConnectionResetError):
                    return  # the connection ended (without a close frame)
                if frame_opcode == PING:
                    self.pings_seen += 1
                    if answer_pings:
                        self._writer.write(encode_frame(PONG, payload))
                    continue
                if frame_opcode == PONG:
                    continue
                if frame_opcode == CLOSE:
                    yield CLOSE, payload
                    return
                if frame_opcode != CONTINUATION:
                    opcode, parts = frame_opcode, b""
                parts += payload
                if frame_fin:
                    assert opcode in (TEXT, BINARY), opcode
                    yield opcode, parts
                    opcode, parts = None, b""

    async def _frame(self) -> tuple[bool, int, bytes]:
        head = await self._reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self._reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self._reader.readexactly(8))[0]
        mask = await self._reader.readexactly(4) if head[1] & 0x80 else b""
        payload = await self._reader.readexactly(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(head[0] & 0x80), head[0] & 0x0F, payload

    def close(self) -> None:
        self._writer.close()


def close_status(payload: bytes) -> int | None:
    """The status code in a CLOSE frame's payload (None: it has none)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None

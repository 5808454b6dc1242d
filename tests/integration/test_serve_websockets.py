"""How `parley serve` runs uvicorn for the WebSocket edge."""

from __future__ import annotations

import asyncio
import gc

from litestar import Litestar

from parley.server import Shutdown, listen, serve


async def test_liveness_is_left_to_the_edges_heartbeat_not_to_protocol_pings() -> None:
    # uvicorn's own pings (every 20 s, 20 s to answer) would cut a silent peer
    # at ~40 s with 1011, before the documented 4001 after two heartbeats.
    shutdown = Shutdown()
    started = asyncio.Event()
    serving = asyncio.create_task(
        serve(
            Litestar([]),
            listen("127.0.0.1", 0),
            shutdown,
            log_level="warning",
            access_log=False,
            on_started=started.set,
        )
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        assert shutdown.server is not None
        config = shutdown.server.config
        assert (config.ws_ping_interval, config.ws_ping_timeout) == (None, None)
    finally:
        shutdown()
        assert await asyncio.wait_for(serving, 10)
        gc.unfreeze()  # serve() froze what lived at start-up: this is a test run

"""Settings: one frozen dataclass read from ``PARLEY_*`` environment variables.

``get_settings()`` reads the process environment once and caches it; tests
build their own with ``Settings.from_env({...})``. An empty variable counts as
unset, so ``PARLEY_DATABASE_URL=`` in a compose file means "use the default".
A bad value raises :class:`SettingsError`, whose message names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from events.jetstream.topology import Topology
from parley import setting_values as values
from parley.attachment_settings import AttachmentSettings
from parley.errors import SettingsError as SettingsError

DEV_JWT_SECRET = "parley-dev-only-jwt-secret-never-use-in-production"
"""The JWT secret used when ``PARLEY_JWT_SECRET`` is unset: fine on a laptop,
never anywhere a token matters (``parley serve`` warns when it is in use)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything Parley reads from its environment."""

    database_url: str | None = None
    """``PARLEY_DATABASE_URL``: PostgreSQL, e.g. ``postgresql://user:pw@host:5432/parley``.
    Unset: ``parley run`` and ``parley migrate`` use an embedded PostgreSQL under
    ``data_dir``; ``parley serve`` refuses to start."""

    nats_url: str | None = None
    """``PARLEY_NATS_URL``: NATS with JetStream, e.g. ``nats://host:4222``, or the
    servers of a cluster separated by commas (``nats://a:4222,nats://b:4222``).
    Unset: ``parley run`` starts an embedded nats-server under ``data_dir``."""

    nats_replicas: int = 1
    """``PARLEY_NATS_REPLICAS``: how many JetStream servers keep each of Parley's
    streams and buckets when Parley creates them (1 to 5; 3 in a cluster)."""

    read_database_url: str | None = None
    """``PARLEY_READ_DATABASE_URL``: a streaming replica of ``database_url`` for
    the read API's queries (unset: they read the primary). docs/SCALING.md."""

    read_fallback: bool = True
    """``PARLEY_READ_FALLBACK``: ``primary`` (reads go to the primary while the
    replica does not answer) or ``refuse`` (they answer 503 ``replica_unavailable``)."""

    jwt_secret: str = DEV_JWT_SECRET
    """``PARLEY_JWT_SECRET``: the HS256 key that signs and checks access tokens
    (at least 32 bytes)."""

    master_key: bytes | None = field(default=None, repr=False)
    """``PARLEY_MASTER_KEY``: 32 random bytes in base64 (``openssl rand -base64
    32``) that wrap every client's data key (docs/PRIVACY.md). Unset: a key
    generated into ``data_dir/master.key`` on first use (with a warning)."""

    http_host: str = "127.0.0.1"
    """``PARLEY_HTTP_HOST``: the interface the HTTP server listens on."""

    http_port: int = 8000
    """``PARLEY_HTTP_PORT``: the HTTP server's TCP port (1 to 65535)."""

    data_dir: Path = Path(".parley")
    """``PARLEY_DATA_DIR``: where embedded PostgreSQL and nats-server keep their data."""

    nats_prefix: str = "parley"
    """``PARLEY_NATS_PREFIX``: prefix of this deployment's JetStream stream and
    subject names, so several deployments can share one NATS."""

    stall_seconds: float = 30.0
    """``PARLEY_STALL_SECONDS``: a relay or projection behind the head of the log
    that has not moved for this long makes ``/health/ready`` answer 503."""

    jetstream_duplicate_window_seconds: float = 120.0
    """``PARLEY_JETSTREAM_DUPLICATE_WINDOW_SECONDS``: how long JetStream
    remembers an event id and drops a repeat. The relay never depends on it
    for correctness (it asks the stream what it holds after any failure);
    tests shorten it to prove that."""

    ws_heartbeat_seconds: float = 30.0
    """``PARLEY_WS_HEARTBEAT_SECONDS``: the WebSocket heartbeat interval; a
    socket silent for two intervals is closed (4001)."""

    ws_typing_timeout_seconds: float = 15.0
    """``PARLEY_WS_TYPING_TIMEOUT_SECONDS``: a typing indicator ends when its
    typist sent no TYPING_START refresh for this long (docs/PROTOCOL.md)."""

    presence_ttl_seconds: float = 30.0
    """``PARLEY_PRESENCE_TTL_SECONDS``: a socket whose node stopped refreshing
    its presence (the node died) counts as gone after this long."""

    ws_max_sockets_per_user: int = 20
    """``PARLEY_WS_MAX_SOCKETS_PER_USER``: open sockets one user may hold on one
    node; the next is refused with 4409."""

    ws_max_subscriptions: int = 100
    """``PARLEY_WS_MAX_SUBSCRIPTIONS``: conversations one inbox socket may
    SUBSCRIBE to (ERROR ``too_many_subscriptions``)."""

    ws_connects_per_minute: int = 600
    """``PARLEY_WS_CONNECTS_PER_MINUTE``: WebSocket upgrade attempts one IP
    address may make per minute on one node; more are refused with 4429."""

    allowed_origins: tuple[str, ...] = ()
    """``PARLEY_ALLOWED_ORIGINS``: comma-separated browser origins (e.g.
    ``https://admin.example.com``) allowed to call the API (CORS) and open
    WebSockets; the server's own origin is always allowed."""

    router: bool = True
    """``PARLEY_ROUTER``: whether ``parley worker`` (and ``parley run``) runs the
    router, which assigns team conversations to agents (``on``/``off``; one
    router leads at a time however many workers run it)."""

    router_grace_seconds: float = 120.0
    """``PARLEY_ROUTER_GRACE_SECONDS``: how long an agent may be offline before
    the router puts their open team conversations back in the team's queue."""

    waker: bool = True
    """``PARLEY_WAKER``: whether ``parley worker`` (and ``parley run``) runs the
    waker, which wakes snoozed conversations when their time comes (``on``/
    ``off``; every worker's waker may run, each wake happens once)."""

    snapshot_every: int = 500
    """``PARLEY_SNAPSHOT_EVERY``: save a conversation's state every this many events
    (in the background), fold an uncached one from it on; ``0``: no snapshots."""
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)
    """Uploads and the blob store (``parley.attachment_settings``)."""

    @property
    def topology(self) -> Topology:
        """Where this deployment's events live in NATS."""
        return Topology(
            prefix=self.nats_prefix,
            duplicate_window=self.jetstream_duplicate_window_seconds,
            replicas=self.nats_replicas,
        )

    @property
    def uses_dev_jwt_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from ``environ``; raises :class:`SettingsError`."""

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        defaults = cls()
        return cls(
            database_url=values.url(
                get("PARLEY_DATABASE_URL"), "PARLEY_DATABASE_URL", values.POSTGRES_SCHEMES
            ),
            read_database_url=values.url(
                get("PARLEY_READ_DATABASE_URL"),
                "PARLEY_READ_DATABASE_URL",
                values.POSTGRES_SCHEMES,
            ),
            read_fallback=values.read_fallback(get("PARLEY_READ_FALLBACK")),
            nats_url=values.nats_urls(get("PARLEY_NATS_URL")),
            nats_replicas=values.replicas(get("PARLEY_NATS_REPLICAS")),
            jwt_secret=values.secret(get("PARLEY_JWT_SECRET") or defaults.jwt_secret),
            master_key=values.master_key(get("PARLEY_MASTER_KEY")),
            http_host=get("PARLEY_HTTP_HOST") or defaults.http_host,
            http_port=values.port(get("PARLEY_HTTP_PORT"), defaults.http_port),
            data_dir=Path(get("PARLEY_DATA_DIR") or defaults.data_dir),
            nats_prefix=values.nats_prefix(get("PARLEY_NATS_PREFIX") or defaults.nats_prefix),
            stall_seconds=values.seconds(
                get("PARLEY_STALL_SECONDS"), defaults.stall_seconds, "PARLEY_STALL_SECONDS"
            ),
            ws_typing_timeout_seconds=values.seconds(
                get("PARLEY_WS_TYPING_TIMEOUT_SECONDS"),
                defaults.ws_typing_timeout_seconds,
                "PARLEY_WS_TYPING_TIMEOUT_SECONDS",
            ),
            allowed_origins=values.origins(get("PARLEY_ALLOWED_ORIGINS")),
            presence_ttl_seconds=values.seconds(
                get("PARLEY_PRESENCE_TTL_SECONDS"),
                defaults.presence_ttl_seconds,
                "PARLEY_PRESENCE_TTL_SECONDS",
            ),
            ws_max_sockets_per_user=values.count(
                get("PARLEY_WS_MAX_SOCKETS_PER_USER"),
                defaults.ws_max_sockets_per_user,
                "PARLEY_WS_MAX_SOCKETS_PER_USER",
            ),
            ws_max_subscriptions=values.count(
                get("PARLEY_WS_MAX_SUBSCRIPTIONS"),
                defaults.ws_max_subscriptions,
                "PARLEY_WS_MAX_SUBSCRIPTIONS",
            ),
            ws_connects_per_minute=values.count(
                get("PARLEY_WS_CONNECTS_PER_MINUTE"),
                defaults.ws_connects_per_minute,
                "PARLEY_WS_CONNECTS_PER_MINUTE",
            ),
            jetstream_duplicate_window_seconds=values.seconds(
                get("PARLEY_JETSTREAM_DUPLICATE_WINDOW_SECONDS"),
                defaults.jetstream_duplicate_window_seconds,
                "PARLEY_JETSTREAM_DUPLICATE_WINDOW_SECONDS",
            ),
            ws_heartbeat_seconds=values.seconds(
                get("PARLEY_WS_HEARTBEAT_SECONDS"),
                defaults.ws_heartbeat_seconds,
                "PARLEY_WS_HEARTBEAT_SECONDS",
            ),
            router=values.switch(get("PARLEY_ROUTER"), defaults.router, "PARLEY_ROUTER"),
            router_grace_seconds=values.seconds(
                get("PARLEY_ROUTER_GRACE_SECONDS"),
                defaults.router_grace_seconds,
                "PARLEY_ROUTER_GRACE_SECONDS",
            ),
            waker=values.switch(get("PARLEY_WAKER"), defaults.waker, "PARLEY_WAKER"),
            snapshot_every=values.count(
                get("PARLEY_SNAPSHOT_EVERY"),
                defaults.snapshot_every,
                "PARLEY_SNAPSHOT_EVERY",
                minimum=0,
            ),
            attachments=AttachmentSettings.from_env(environ),
        )


@cache
def get_settings() -> Settings:
    """The settings of this process, read from ``os.environ`` on first use."""
    return Settings.from_env(os.environ)

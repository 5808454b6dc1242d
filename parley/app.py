"""The composition root of the HTTP app: adapters in, a Litestar app out.

``create_app`` builds no adapter itself: the caller (the CLI, or a test)
connects PostgreSQL and NATS (``parley.services.open_services``), passes them
in, and closes them after the app stops. They are kept on ``app.state`` and
handed to route handlers by the dependency providers below, under the names
``settings``, ``pool`` and ``nats``.

Later routers (commands, queries, the WebSocket edge) are added to
``_route_handlers``; callers may add more with ``route_handlers=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import cast

import asyncpg
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler
from nats.aio.client import Client as NATS

from blobs.port import BlobStore
from commands.attachment_service import AttachmentService
from commands.catalogue_handler import CatalogueHandler
from commands.handler import CommandHandler
from commands.http import COMMAND_HANDLERS, BoundedJSONRequest, provide_context
from commands.http_attachments import ATTACHMENT_HANDLERS, provide_attachments
from commands.http_auth import jwt_authenticator, provide_actor
from commands.http_catalogues import CATALOGUE_HANDLERS, provide_catalogue_context
from commands.http_merge import MERGE_HANDLERS
from commands.http_notes import NOTE_HANDLERS
from commands.http_privacy import PRIVACY_HANDLERS
from commands.http_session import session_routes
from commands.http_snooze import SNOOZE_HANDLERS
from commands.http_staff import STAFF_HANDLERS, provide_staff_context
from commands.merge_service import MergeService
from commands.privacy import PrivacyService
from commands.signed_urls import signing_key
from commands.staff_handler import StaffHandler
from events.postgres.replica import ReadPools, ReplicaLog
from events.postgres.store import PostgresEventStore
from events.postgres.turns import AdvisoryTurns
from parley import services
from parley.blobs import open_blob_store
from parley.health import HealthController
from parley.http_errors import EXCEPTION_HANDLERS
from parley.master_key import client_keys
from parley.metrics import Metrics, metrics_endpoint
from parley.settings import Settings
from parley.worker import projections
from read_api.catalogues import CATALOGUE_QUERIES
from read_api.http import QUERY_HANDLERS
from read_api.notes_http import NOTE_QUERY_HANDLERS
from read_api.search_http import SEARCH_HANDLERS
from ws_edge.config import EdgeConfig
from ws_edge.directory import Directory, agent_roster
from ws_edge.http import PRESENCE_HANDLERS, WEBSOCKET_HANDLERS, Edge
from ws_edge.hub import Hub
from ws_edge.local_feed import LocalFeed
from ws_edge.presence import Presence


def provide_settings(state: State) -> Settings:
    return cast(Settings, state.settings)


def provide_pool(state: State) -> asyncpg.Pool:
    return cast(asyncpg.Pool, state.pool)


def provide_read_pool(state: State) -> asyncpg.Pool:
    """The read API's pool: the replica's when there is one and it answers."""
    return cast(ReadPools, state.reads).pool()


def provide_nats(state: State) -> NATS:
    return cast(NATS, state.nats)


def _route_handlers() -> list[ControllerRouterHandler]:
    """Every router of the app."""
    api = Router(
        path="/api",
        route_handlers=[
            *COMMAND_HANDLERS,
            *STAFF_HANDLERS,
            *PRESENCE_HANDLERS,
            *CATALOGUE_HANDLERS,
            *NOTE_HANDLERS,
            *SNOOZE_HANDLERS,
            *MERGE_HANDLERS,
            *PRIVACY_HANDLERS,
            *ATTACHMENT_HANDLERS,
            # The queries of the read models: on the read replica, if any.
            Router(
                path="/",
                route_handlers=[
                    *QUERY_HANDLERS,
                    *CATALOGUE_QUERIES,
                    *NOTE_QUERY_HANDLERS,
                    *SEARCH_HANDLERS,
                ],
                dependencies={"pool": Provide(provide_read_pool, sync_to_thread=False)},
            ),
        ],
        dependencies={
            "ctx": Provide(provide_context, sync_to_thread=False),
            "staff": Provide(provide_staff_context, sync_to_thread=False),
            "catalogue": Provide(provide_catalogue_context, sync_to_thread=False),
            "attachments": Provide(provide_attachments, sync_to_thread=False),
        },
    )
    return [HealthController, metrics_endpoint, api, *WEBSOCKET_HANDLERS]


MAX_BODY_BYTES = 64 * 1024
"""Largest request body accepted (413 beyond); documented in docs/COMMANDS.md."""


def _version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:
        return "0+unknown"


def create_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool,
    nats: NATS,
    route_handlers: Sequence[ControllerRouterHandler] = (),
    debug: bool = False,
    blobs: BlobStore | None = None,
) -> Litestar:
    """The Parley HTTP app over connected adapters (which the caller closes).
    Without ``blobs``, the app opens the blob store the settings name (and
    closes it when it stops)."""
    metrics = Metrics()
    keys = client_keys(pool, settings)
    reads = ReadPools(
        pool,
        settings.read_database_url,
        fallback=settings.read_fallback,
        command_timeout=services.QUERY_TIMEOUT,
    )
    store = PostgresEventStore(pool, on_commit=metrics.on_commit, keys=keys)
    authenticate = jwt_authenticator(settings.jwt_secret)
    edge_config = EdgeConfig.scaled(
        typing_timeout=settings.ws_typing_timeout_seconds,
        heartbeat_seconds=settings.ws_heartbeat_seconds,
        max_sockets_per_user=settings.ws_max_sockets_per_user,
        max_subscriptions=settings.ws_max_subscriptions,
        connects_per_minute=settings.ws_connects_per_minute,
    )
    presence = Presence(
        nats,
        settings.nats_prefix,
        ttl=settings.presence_ttl_seconds,
        replicas=settings.nats_replicas,
    )
    hub = Hub(
        nats,
        settings.topology,
        typing_expiry=edge_config.typing_expiry,
        presence=presence,
        directory=Directory(store, roster=agent_roster(pool)),
        keys=keys,
    )
    local_feed = LocalFeed(hub)
    snapshots = services.snapshots(pool, settings.snapshot_every)
    handler = CommandHandler(
        store,
        on_appended=local_feed.appended,
        on_handled=metrics.on_handled,
        snapshots=snapshots,
        turns=AdvisoryTurns(pool),  # several edges may write one conversation
    )
    staff_handler = StaffHandler(store)
    catalogue_handler = CatalogueHandler(store)
    own_blobs = blobs is None
    blobs = blobs or open_blob_store(settings)
    attachment_service = AttachmentService(
        store,
        blobs,
        handler,
        max_bytes=settings.attachments.max_bytes,
        url_key=signing_key(settings.jwt_secret),
        url_seconds=settings.attachments.url_seconds,
    )
    edge = Edge(
        hub,
        store,
        handler,
        settings.jwt_secret,
        edge_config,
        pool,
        metrics.ws_tally,
        allowed_origins=settings.allowed_origins,
        presence=presence,
        replays_from=ReplicaLog(reads, keys) if settings.read_database_url else None,
    )
    return Litestar(
        route_handlers=[*_route_handlers(), *session_routes(settings.jwt_secret), *route_handlers],
        # "drain": what the server awaits on shutdown before closing connections.
        state=State(
            {
                "settings": settings,
                "pool": pool,
                "reads": reads,
                "nats": nats,
                "drain": edge.close_all,
                "authenticate": authenticate,
                "command_handler": handler,
                "staff_handler": staff_handler,
                "catalogue_handler": catalogue_handler,
                "merge_service": MergeService(handler, store, pool),
                "attachment_service": attachment_service,
                "privacy_service": PrivacyService(
                    store, pool, keys, blobs, [p.name for p in projections()]
                ),
            }
        ),
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "pool": Provide(provide_pool, sync_to_thread=False),
            "nats": Provide(provide_nats, sync_to_thread=False),
            "handler": Provide(lambda: handler, sync_to_thread=False),
            "authenticate": Provide(lambda: authenticate, sync_to_thread=False),
            "actor": Provide(provide_actor, sync_to_thread=False),
            "edge": Provide(lambda: edge, sync_to_thread=False),
            "store": Provide(lambda: store, sync_to_thread=False),
            "metrics": Provide(lambda: metrics, sync_to_thread=False),
            "reads": Provide(lambda: reads, sync_to_thread=False),
        },
        on_startup=[reads.start, hub.start, presence.start],
        # Sockets close (and leave), presence says goodbye, the event store's
        # group-commit writers finish what is queued, snapshots being saved are.
        on_shutdown=[
            edge.close_all,
            presence.stop,
            hub.stop,
            store.close,
            reads.stop,
            *([snapshots.drain] if snapshots else []),
            *([blobs.close] if own_blobs else []),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Correlation-ID"],
            max_age=600,
        )
        if settings.allowed_origins
        else None,
        request_max_body_size=MAX_BODY_BYTES,
        request_class=BoundedJSONRequest,
        openapi_config=OpenAPIConfig(title="Parley", version=_version()),
        # Logging is the process's business (the CLI sets it up), not the app's.
        logging_config=LoggingConfig(configure_root_logger=False),
        debug=debug,
    )

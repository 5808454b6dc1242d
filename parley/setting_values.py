"""How each kind of setting is read from its environment variable's text:
the checks behind :class:`parley.settings.Settings`, each raising
:class:`SettingsError` with a message that names the variable."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from parley.errors import SettingsError

POSTGRES_SCHEMES = ("postgresql", "postgres")
NATS_SCHEMES = ("nats", "tls", "ws", "wss")
NATS_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def url(value: str | None, name: str, schemes: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        expected = " or ".join(f"{s}://" for s in schemes)
        raise SettingsError(name, f"expected a URL starting with {expected}, got {value!r}")
    return value


def nats_urls(value: str | None) -> str | None:
    """``PARLEY_NATS_URL``: one NATS URL, or several separated by commas (the
    servers of one cluster: the client connects to any and fails over)."""
    if value is None:
        return None
    urls = [part.strip() for part in value.split(",") if part.strip()]
    for one in urls:
        url(one, "PARLEY_NATS_URL", NATS_SCHEMES)
    return ",".join(urls) or None


def replicas(value: str | None) -> int:
    """``PARLEY_NATS_REPLICAS``: how many JetStream servers keep each stream (1 to 5)."""
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= 5:
        raise SettingsError(
            "PARLEY_NATS_REPLICAS", f"expected 1 to 5 (3 in a cluster), got {value!r}"
        )
    return int(value)


def read_fallback(value: str | None) -> bool:
    """``PARLEY_READ_FALLBACK``: ``primary`` (True, the default) or ``refuse``."""
    if value is None or value == "primary":
        return True
    if value == "refuse":
        return False
    raise SettingsError("PARLEY_READ_FALLBACK", f"expected primary or refuse, got {value!r}")


def port(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise SettingsError(
            "PARLEY_HTTP_PORT", f"expected a port number from 1 to 65535, got {value!r}"
        )
    return port


def seconds(value: str | None, default: float, name: str) -> float:
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86_400:
        raise SettingsError(name, f"expected a number of seconds above 0, got {value!r}")
    return seconds


def count(value: str | None, default: int, name: str, *, minimum: int = 1) -> int:
    if value is None:
        return default
    if not value.isdigit() or not minimum <= int(value) <= 1_000_000:
        problem = f"expected a whole number from {minimum} to 1000000, got {value!r}"
        raise SettingsError(name, problem)
    return int(value)


ON, OFF = ("1", "true", "on", "yes"), ("0", "false", "off", "no")


def switch(value: str | None, default: bool, name: str) -> bool:
    if value is None:
        return default
    if value.lower() not in ON + OFF:
        raise SettingsError(name, f"expected on or off (or true/false, 1/0), got {value!r}")
    return value.lower() in ON


def origins(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            raise SettingsError(
                "PARLEY_ALLOWED_ORIGINS",
                f"expected origins like https://host[:port], got {origin!r}",
            )
    return origins


def secret(value: str) -> str:
    # RFC 7518 §3.2: an HS256 key must be at least as long as the hash (32 bytes).
    if len(value.encode()) < 32:
        raise SettingsError("PARLEY_JWT_SECRET", "must be at least 32 bytes long for HS256")
    return value


def master_key(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise SettingsError(
            "PARLEY_MASTER_KEY", "must be 32 bytes in base64 (openssl rand -base64 32)"
        )
    return key


def nats_prefix(value: str) -> str:
    if not NATS_TOKEN.match(value):
        raise SettingsError(
            "PARLEY_NATS_PREFIX",
            f"expected 1 to 64 letters, digits, '-' or '_' (a NATS name token), got {value!r}",
        )
    return value

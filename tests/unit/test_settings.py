"""Settings from PARLEY_* variables: defaults, overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.settings import DEV_JWT_SECRET, Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.database_url is None  # embedded
    assert settings.nats_url is None  # embedded
    assert settings.jwt_secret == DEV_JWT_SECRET and settings.uses_dev_jwt_secret
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8000
    assert settings.data_dir == Path(".parley")
    assert settings.nats_prefix == "parley"


def test_every_variable_overrides_its_default() -> None:
    settings = Settings.from_env(
        {
            "PARLEY_DATABASE_URL": "postgresql://app:pw@db:5432/parley",
            "PARLEY_NATS_URL": "nats://nats:4222",
            "PARLEY_JWT_SECRET": "s" * 32,
            "PARLEY_HTTP_HOST": "0.0.0.0",
            "PARLEY_HTTP_PORT": "9000",
            "PARLEY_DATA_DIR": "/var/lib/parley",
            "PARLEY_NATS_PREFIX": "staging",
            "PARLEY_PRESENCE_TTL_SECONDS": "10",
            "PARLEY_WS_MAX_SOCKETS_PER_USER": "5",
            "PARLEY_WS_MAX_SUBSCRIPTIONS": "50",
            "PARLEY_WS_CONNECTS_PER_MINUTE": "60",
        }
    )

    assert settings == Settings(
        database_url="postgresql://app:pw@db:5432/parley",
        nats_url="nats://nats:4222",
        jwt_secret="s" * 32,
        http_host="0.0.0.0",
        http_port=9000,
        data_dir=Path("/var/lib/parley"),
        nats_prefix="staging",
        presence_ttl_seconds=10.0,
        ws_max_sockets_per_user=5,
        ws_max_subscriptions=50,
        ws_connects_per_minute=60,
    )
    assert not settings.uses_dev_jwt_secret


def test_empty_variables_count_as_unset() -> None:
    settings = Settings.from_env({"PARLEY_DATABASE_URL": "", "PARLEY_HTTP_PORT": "  "})
    assert settings.database_url is None and settings.http_port == 8000


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.http_port = 1  # type: ignore[misc]


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "80.5"])
def test_a_bad_port_names_the_variable_and_the_value(port: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PARLEY_HTTP_PORT": port})

    assert caught.value.name == "PARLEY_HTTP_PORT"
    assert str(caught.value) == (
        f"PARLEY_HTTP_PORT: expected a port number from 1 to 65535, got {port!r}"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PARLEY_DATABASE_URL", "mysql://db/parley"),
        ("PARLEY_DATABASE_URL", "db:5432"),
        ("PARLEY_NATS_URL", "http://nats:4222"),
        ("PARLEY_NATS_URL", "nats://a:4222,http://b:4222"),
        ("PARLEY_NATS_REPLICAS", "0"),
        ("PARLEY_NATS_REPLICAS", "6"),
        ("PARLEY_NATS_REPLICAS", "three"),
        ("PARLEY_JWT_SECRET", "too-short"),
        ("PARLEY_NATS_PREFIX", "has.dots"),
        ("PARLEY_NATS_PREFIX", "has spaces"),
        ("PARLEY_PRESENCE_TTL_SECONDS", "0"),
        ("PARLEY_WS_MAX_SOCKETS_PER_USER", "0"),
        ("PARLEY_WS_MAX_SUBSCRIPTIONS", "-3"),
        ("PARLEY_WS_CONNECTS_PER_MINUTE", "ten"),
    ],
)
def test_other_bad_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.name == name
    assert str(caught.value).startswith(f"{name}: ")


def test_a_cluster_is_several_nats_urls_and_its_streams_get_replicas() -> None:
    settings = Settings.from_env(
        {
            "PARLEY_NATS_URL": " nats://a:4222, nats://b:4222 ,nats://c:4222",
            "PARLEY_NATS_REPLICAS": "3",
        }
    )
    assert settings.nats_url == "nats://a:4222,nats://b:4222,nats://c:4222"
    assert settings.topology.replicas == 3
    assert Settings.from_env({}).topology.replicas == 1


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setenv("PARLEY_HTTP_PORT", "8123")
    try:
        assert get_settings().http_port == 8123
        monkeypatch.setenv("PARLEY_HTTP_PORT", "8124")
        assert get_settings().http_port == 8123  # cached
    finally:
        get_settings.cache_clear()


def test_the_router_is_on_by_default_with_a_two_minute_grace() -> None:
    assert Settings.from_env({}).router is True
    assert Settings.from_env({}).router_grace_seconds == 120.0
    settings = Settings.from_env({"PARLEY_ROUTER": "off", "PARLEY_ROUTER_GRACE_SECONDS": "2.5"})
    assert (settings.router, settings.router_grace_seconds) == (False, 2.5)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PARLEY_ROUTER": "maybe"})
    assert caught.value.name == "PARLEY_ROUTER"


def test_snapshots_every_500_events_by_default_and_zero_turns_them_off() -> None:
    assert Settings.from_env({}).snapshot_every == 500
    assert Settings.from_env({"PARLEY_SNAPSHOT_EVERY": "50"}).snapshot_every == 50
    assert Settings.from_env({"PARLEY_SNAPSHOT_EVERY": "0"}).snapshot_every == 0
    for bad in ("-1", "often", "2000000"):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({"PARLEY_SNAPSHOT_EVERY": bad})
        assert str(caught.value) == (
            f"PARLEY_SNAPSHOT_EVERY: expected a whole number from 0 to 1000000, got {bad!r}"
        )

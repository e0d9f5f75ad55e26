"""Settings: contract defaults (§5, §15) and the startup errors of malformed values."""

from __future__ import annotations

import pytest

from kneo.config import ConfigError, Limits, Settings, is_truthy, load_settings

LIMIT_NAMES = [
    "KNEO_SERV_MAX_BODY_BYTES",
    "KNEO_SERV_MAX_INPUT_CHARS",
    "KNEO_SERV_MAX_HUMAN_CONTENT_CHARS",
    "KNEO_SERV_MAX_INLINE_SPEC_BYTES",
    "KNEO_SERV_MAX_OVERRIDES_BYTES",
    "KNEO_SERV_MAX_METADATA_BYTES",
    "KNEO_SERV_MAX_LIST_ITEMS",
    "KNEO_SERV_MAX_PATH_CHARS",
]


def test_defaults_follow_the_contract() -> None:
    settings = load_settings({})
    assert settings.limits == Limits(
        max_body_bytes=1_048_576,
        max_input_chars=20_000,
        max_human_content_chars=20_000,
        max_inline_spec_bytes=262_144,
        max_overrides_bytes=65_536,
        max_metadata_bytes=32_768,
        max_list_items=100,
        max_path_chars=4_096,
    )
    assert settings.auth_enabled is False
    assert settings.api_keys == ()
    assert settings.log_level == "INFO"
    assert settings.request_logs is True
    assert settings.client_timeout == 120.0
    assert settings.database_url is None
    assert settings.embedded is True
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.otel_enabled is False
    assert settings.health_providers == () and settings.health_mcp_secrets == ()


def test_limits_are_read_from_the_environment() -> None:
    env = {name: str(index + 7) for index, name in enumerate(LIMIT_NAMES)}
    limits = load_settings(env).limits
    assert [getattr(limits, field) for field in Limits.__dataclass_fields__] == list(range(7, 7 + len(LIMIT_NAMES)))


def test_blank_limit_falls_back_to_the_default() -> None:
    assert load_settings({"KNEO_SERV_MAX_INPUT_CHARS": "  "}).limits.max_input_chars == 20_000
    assert load_settings({"KNEO_SERV_MAX_INPUT_CHARS": " 42 "}).limits.max_input_chars == 42


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize("raw", ["abc", "1.5", "10k"])
def test_non_integer_limit_is_a_startup_error(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name} must be an integer\.$"):
        load_settings({name: raw})


@pytest.mark.parametrize("name", LIMIT_NAMES)
@pytest.mark.parametrize("raw", ["0", "-1"])
def test_non_positive_limit_is_a_startup_error(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{name} must be greater than zero\.$"):
        load_settings({name: raw})


def test_config_error_is_a_runtime_error() -> None:
    assert issubclass(ConfigError, RuntimeError)


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "On"])
def test_truthy_spellings(value: str) -> None:
    assert is_truthy(value)


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "off", "enabled"])
def test_falsy_spellings(value: str | None) -> None:
    assert not is_truthy(value)


def test_auth_enabled_without_keys_is_a_startup_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"KNEO_SERV_AUTH_ENABLED": "true"})
    assert str(info.value) == (
        "KNEO service auth is enabled but no API keys are configured. "
        "Set KNEO_SERV_API_KEYS or KNEO_SERV_ADMIN_API_KEY."
    )


def test_keys_enable_auth_even_when_flag_is_false() -> None:
    settings = load_settings({"KNEO_SERV_API_KEYS": "ops:tok:operator", "KNEO_SERV_AUTH_ENABLED": "false"})
    assert settings.auth_enabled is True
    assert [r.principal.name for r in settings.api_keys] == ["ops"]


def test_admin_key_alone_enables_auth() -> None:
    settings = load_settings({"KNEO_SERV_ADMIN_API_KEY": "root-key"})
    assert settings.auth_enabled is True
    assert settings.api_keys[0].principal.name == "admin"


@pytest.mark.parametrize("entry", ["justname", "name:key", "name:key:", ":key:viewer"])
def test_malformed_api_keys_entry_is_a_startup_error(entry: str) -> None:
    with pytest.raises(ConfigError, match="Invalid KNEO_SERV_API_KEYS entry"):
        load_settings({"KNEO_SERV_API_KEYS": entry})


@pytest.mark.parametrize("token", ["superuser", "specs:write", "Admin"])
def test_unknown_role_or_scope_is_rejected(token: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown role or scope '{token}'"):
        load_settings({"KNEO_SERV_API_KEYS": f"svc:tok:{token}"})


@pytest.mark.parametrize("level", ["debug", "Warning", " ERROR ", "critical", "INFO"])
def test_valid_log_levels_are_normalised(level: str) -> None:
    assert load_settings({"KNEO_SERV_LOG_LEVEL": level}).log_level == level.strip().upper()


@pytest.mark.parametrize("level", ["verbose", "TRACE", "5"])
def test_invalid_log_level_is_a_startup_error(level: str) -> None:
    with pytest.raises(ConfigError, match=rf"^Invalid KNEO_SERV_LOG_LEVEL: {level}$"):
        load_settings({"KNEO_SERV_LOG_LEVEL": level})


def test_request_logs_can_be_switched_off() -> None:
    assert load_settings({"KNEO_SERV_REQUEST_LOGS": "false"}).request_logs is False
    assert load_settings({"KNEO_SERV_REQUEST_LOGS": "1"}).request_logs is True


@pytest.mark.parametrize("raw", ["0", "-3", "soon"])
def test_client_timeout_must_be_a_positive_number(raw: str) -> None:
    with pytest.raises(ConfigError, match="KNEO_SERV_CLIENT_TIMEOUT must be"):
        load_settings({"KNEO_SERV_CLIENT_TIMEOUT": raw})


def test_postgres_url_selects_psycopg2_and_redis_broker() -> None:
    settings = load_settings({"KNEO_SERV_DATABASE_URL": "postgres://u:p@db:5432/kneo"})
    assert settings.sqlalchemy_url == "postgresql+psycopg2://u:p@db:5432/kneo"
    assert settings.broker_url.startswith("redis://")
    assert settings.embedded is False


def test_redacted_summary_hides_secrets() -> None:
    settings = load_settings(
        {
            "KNEO_SERV_DATABASE_URL": "postgresql://u:dbpass@db/kneo",
            "KNEO_SERV_BROKER_URL": "redis://:brokerpass@cache:6379/0",
            "KNEO_SERV_API_KEYS": "ops:very-secret-key:operator",
        }
    )
    summary = repr(settings.redacted_summary())
    for secret in ("dbpass", "brokerpass", "very-secret-key"):
        assert secret not in summary
    assert "very-secret-key" not in repr(settings.api_keys)


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("KNEO_SERV_RETENTION_RUNS_DAYS", "week", "must be a number"),
        ("KNEO_SERV_RETENTION_RUNS_DAYS", "-1", "must be zero or greater"),
        ("KNEO_SERV_STEP_TIMEOUT_SECONDS", "x", "must be an integer"),
        ("KNEO_SERV_MAX_STEP_ATTEMPTS", "0", "must be greater than zero"),
    ],
)
def test_other_numeric_settings_fail_at_startup(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} {message}"):
        load_settings({name: raw})


def test_settings_dataclass_defaults_match_loader() -> None:
    assert Settings().limits == load_settings({}).limits

"""Redaction (contract §12.3 with its over-redaction fixed: harmless fields survive)."""

from __future__ import annotations

from typing import Any

import pytest

from kneo.redaction import REDACTED, already_redacted, is_sensitive_key, redact, redact_text, secret_values

CONTRACT_INPUT = "mail me: joe@corp.io ssn 123-45-6789 Bearer abc.def sk-abcdefghijklmnop api_key=xyz"
CONTRACT_OUTPUT = "mail me: [REDACTED_EMAIL] ssn [REDACTED_SSN] Bearer [REDACTED] [REDACTED] api_key=[REDACTED]"


def test_contract_example_string() -> None:
    assert redact_text(CONTRACT_INPUT) == CONTRACT_OUTPUT
    assert redact(CONTRACT_INPUT) == CONTRACT_OUTPUT


def test_redaction_is_idempotent() -> None:
    once = redact({"text": CONTRACT_INPUT, "nested": [CONTRACT_INPUT]})
    assert redact(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password: hunter2", "password=[REDACTED]"),
        ("PASSWD=abc123 next", "PASSWD=[REDACTED] next"),
        ("secret = s3cr3t", "secret=[REDACTED]"),
        ("token:abc,rest", "token=[REDACTED],rest"),
        ("api-key=k1;x", "api-key=[REDACTED];x"),
        ("authorization: Basic", "authorization=[REDACTED]"),
        ("credential=c", "credential=[REDACTED]"),
        ("bearer xyz.123", "Bearer [REDACTED]"),
        ("key sk-short", "key sk-short"),
        ("SK-ABCDEFGHIJKLMNOP stays", "SK-ABCDEFGHIJKLMNOP stays"),
        ("Contact A.B+c@mail.example.org now", "Contact [REDACTED_EMAIL] now"),
        ("order 1234-56-7890 and 123-456-7890", "order 1234-56-7890 and 123-456-7890"),
        ("plain words stay as they are", "plain words stay as they are"),
        ("", ""),
    ],
)
def test_pattern_redaction(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "API-Key",
        "apikey",
        "openai_api_key",
        "Authorization",
        "password",
        "db_password",
        "token",
        "refresh_token",
        "x-refresh-token",
        "access_token",
        "client_secret",
        "secret",
        "email",
        "author_email",
        "Email",
        "ssn",
        "private_key",
        "cookie",
        "set-cookie",
        "credentials",
    ],
)
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "session_id",
        "service_tokens",
        "author",
        "author_name",
        "name",
        "token_count",
        "prompt_tokens",
        "secretary",
        "passport_country",
        "email_count",
        "description",
        "input",
    ],
)
def test_harmless_keys(key: str) -> None:
    assert not is_sensitive_key(key)


def test_by_key_redaction_at_any_depth() -> None:
    value: dict[str, Any] = {
        "api_key": "abc",
        "config": {"Authorization": "Basic zzz", "nested": [{"password": "p", "token": {"inner": 1}}]},
        "people": [{"email": "x", "author_email": "y", "name": "Ada"}],
    }
    assert redact(value) == {
        "api_key": REDACTED,
        "config": {"Authorization": REDACTED, "nested": [{"password": REDACTED, "token": REDACTED}]},
        "people": [{"email": REDACTED, "author_email": REDACTED, "name": "Ada"}],
    }


def test_harmless_fields_and_scalars_untouched() -> None:
    value = {
        "max_tokens": 512,
        "session_id": "sess-42",
        "service_tokens": {"KNEO_SERV_API_KEYS": {"present": True, "value": None}},
        "author": {"name": "Ada Lovelace"},
        "ratio": 0.5,
        "ok": True,
        "off": False,
        "missing": None,
        "count": 0,
    }
    assert redact(value) == value


def test_sensitive_key_with_null_value_stays_null() -> None:
    assert redact({"password": None}) == {"password": None}


def test_sensitive_key_blanks_non_string_values() -> None:
    assert redact({"token": 12345, "secret": True, "api_key": ["a", "b"]}) == {
        "token": REDACTED,
        "secret": REDACTED,
        "api_key": REDACTED,
    }


def test_sequences_are_recursed_and_returned_as_lists() -> None:
    assert redact(("joe@corp.io", 1)) == ["[REDACTED_EMAIL]", 1]
    assert redact({"items": ["ok", "ssn 123-45-6789"]}) == {"items": ["ok", "ssn [REDACTED_SSN]"]}
    assert sorted(redact({"joe@corp.io"})) == ["[REDACTED_EMAIL]"]


def test_other_objects_are_stringified_and_redacted() -> None:
    class Thing:
        def __str__(self) -> str:
            return "Thing for joe@corp.io password=hunter2 end"

    assert redact(Thing()) == "Thing for [REDACTED_EMAIL] password=[REDACTED] end"


def test_input_is_not_mutated() -> None:
    value = {"password": "p", "list": ["joe@corp.io"]}
    redact(value)
    assert value == {"password": "p", "list": ["joe@corp.io"]}


def test_secret_values_returns_only_present_values() -> None:
    env = {"A": "one", "B": "", "C": "three"}
    assert secret_values(env, ("A", "B", "C", "D")) == ("one", "three")


def test_already_redacted_values_are_not_walked_again() -> None:
    shown = already_redacted(redact({"owner": "ann@example.com", "api_key": "k"}))
    events = already_redacted([{"note": "mail bob@example.com"}])
    out = redact({"spec": shown, "again": shown, "events": events, "password": "p"})
    assert out["spec"] is shown and out["again"] is shown and out["events"] is events
    assert shown == {"owner": "[REDACTED_EMAIL]", "api_key": REDACTED}
    assert out["password"] == REDACTED

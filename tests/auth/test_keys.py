"""API-key parsing, role scopes (contract §3.2/§3.3) and constant-time authentication."""

from __future__ import annotations

import pytest

from kneo.auth.keys import ANONYMOUS, ENTRY_FORMAT_ERROR, ROLE_SCOPES, ApiKeyRecord, authenticate, parse_api_keys
from tests.support.scopes import CONTRACT_SCOPES

ROUTE_SCOPES = [
    "runs:read",
    "runs:write",
    "specs:read",
    "human:read",
    "human:write",
    "audit:read",
    "credentials:read",
    "policies:read",
    "policies:write",
]


def test_role_table_matches_contract() -> None:
    assert {role: set(scopes) for role, scopes in ROLE_SCOPES.items()} == CONTRACT_SCOPES


@pytest.mark.parametrize("role", sorted(CONTRACT_SCOPES))
@pytest.mark.parametrize("scope", ROUTE_SCOPES)
def test_principal_scope_checks(role: str, scope: str) -> None:
    (record,) = parse_api_keys(f"user:key:{role}")
    expected = "*" in CONTRACT_SCOPES[role] or scope in CONTRACT_SCOPES[role]
    assert record.principal.has_scope(scope) is expected


def test_notable_role_gaps() -> None:
    operator, reviewer, viewer = (
        parse_api_keys(f"n:k:{role}")[0].principal for role in ("operator", "reviewer", "viewer")
    )
    assert not operator.has_scope("human:write")
    assert not reviewer.has_scope("runs:write")
    assert viewer.has_scope("specs:read") and not viewer.has_scope("policies:write")


def test_parses_entries_roles_and_explicit_scopes() -> None:
    records = parse_api_keys(" operator:op-token:operator ; ;svc:t2:runs:read,specs:read;")
    assert [(r.principal.name, r.key) for r in records] == [("operator", "op-token"), ("svc", "t2")]
    assert records[0].principal.roles == ("operator",)
    assert records[0].principal.scopes == ROLE_SCOPES["operator"]
    assert records[1].principal.roles == ()
    assert records[1].principal.scopes == frozenset({"runs:read", "specs:read"})


def test_roles_and_scopes_are_combined() -> None:
    (record,) = parse_api_keys("mix:k:viewer,runs:write,reviewer")
    assert record.principal.roles == ("viewer", "reviewer")
    assert record.principal.scopes == ROLE_SCOPES["viewer"] | ROLE_SCOPES["reviewer"] | {"runs:write"}


def test_admin_key_adds_admin_record_last() -> None:
    records = parse_api_keys("ops:k1:operator", " root ")
    assert [r.principal.name for r in records] == ["ops", "admin"]
    admin = records[-1]
    assert admin.key == "root" and admin.principal.roles == ("admin",)
    assert admin.principal.has_scope("anything:at-all")


def test_blank_admin_key_is_ignored() -> None:
    assert parse_api_keys(None, "   ") == ()
    assert parse_api_keys("", None) == ()


@pytest.mark.parametrize("raw", ["name", "name:key", "name:key:", "name:key: , ", ":key:viewer"])
def test_malformed_entries_raise(raw: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_api_keys(raw)
    assert str(info.value) == ENTRY_FORMAT_ERROR


def test_key_with_colon_cannot_smuggle_a_scope() -> None:
    with pytest.raises(ValueError, match="unknown role or scope 'def:viewer'"):
        parse_api_keys("n:abc:def:viewer")


@pytest.mark.parametrize("token", ["superuser", "runs:delete", "VIEWER"])
def test_unknown_tokens_raise(token: str) -> None:
    with pytest.raises(ValueError, match="unknown role or scope"):
        parse_api_keys(f"n:k:{token}")


def test_record_repr_hides_the_key() -> None:
    (record,) = parse_api_keys("ops:super-secret-value:operator")
    assert "super-secret-value" not in repr(record)
    assert "ops" in repr(record)


def test_authenticate_matches_exact_key_only() -> None:
    records = parse_api_keys("a:alpha:viewer;b:beta:operator")
    assert authenticate(records, "beta") is records[1].principal
    assert authenticate(records, "alpha") is records[0].principal
    for wrong in ("bet", "betaa", "BETA", "beta ", "gamma"):
        assert authenticate(records, wrong) is None


def test_authenticate_returns_first_match_for_duplicate_keys() -> None:
    records = parse_api_keys("first:same:viewer;second:same:admin")
    found = authenticate(records, "same")
    assert found is not None and found.name == "first"


def test_empty_key_never_authenticates() -> None:
    records = parse_api_keys("blank::viewer;ok:k:viewer")
    assert records[0].key == ""
    assert authenticate(records, "") is None
    assert authenticate((), "") is None
    assert authenticate((), "k") is None


def test_authenticate_scans_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant time: the comparison count does not depend on where (or whether) the key matches."""
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("kneo.auth.keys.hmac.compare_digest", counting)
    records = parse_api_keys("a:k1:viewer;b:k2:viewer;c:k3:viewer")
    counts = []
    for presented in ("k1", "k3", "nope"):
        calls.clear()
        authenticate(records, presented)
        counts.append(len(calls))
    assert counts == [3, 3, 3]


def test_anonymous_principal_has_every_scope() -> None:
    assert ANONYMOUS.name == "anonymous"
    assert ANONYMOUS.roles == ("anonymous",)
    assert ANONYMOUS.has_scope("policies:write")


def test_records_are_immutable() -> None:
    record = parse_api_keys("a:k:viewer")[0]
    assert isinstance(record, ApiKeyRecord)
    with pytest.raises(AttributeError):
        record.key = "other"  # type: ignore[misc]

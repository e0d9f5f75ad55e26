"""The operator's allow-lists: stdio commands, outbound origins, secret names and the skills root."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kneo.config import ConfigError, load_agent_settings, load_settings
from kneo.sandbox import (
    CommandNotAllowed,
    CommandRule,
    OutboundNotAllowed,
    Sandbox,
    SecretNotAllowed,
    check_url,
    parse_commands,
    parse_origin,
)


def test_origins_parse_with_default_ports_and_wildcards() -> None:
    assert str(parse_origin("https://API.example.com")) == "https://api.example.com:443"
    assert str(parse_origin("http://127.0.0.1:8765/")) == "http://127.0.0.1:8765"
    assert str(parse_origin("http://[::1]:*")) == "http://::1:*"
    assert str(parse_origin("https://*.example.com")) == "https://*.example.com:443"
    for bad in ("ftp://x", "https://", "https://a*b.com", "https://x/path", "127.0.0.1:80"):
        with pytest.raises(ValueError):
            parse_origin(bad)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/v1",  # not listed
        "https://127.0.0.1:8443/v1",  # scheme differs
        "http://127.0.0.1:9999/v1",  # port differs
        "http://user:pw@127.0.0.1:8443/",  # credentials in the URL
        "file:///etc/passwd",
        "http://localhost:8443/",  # a name resolving to loopback, matched only by the wildcard
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]:8443/",
        "http://10.0.0.1:8443/",
    ],
)
def test_urls_outside_the_allow_list_are_refused(url: str) -> None:
    allowed = (parse_origin("http://127.0.0.1:8443"), parse_origin("http://*:8443"))
    with pytest.raises(OutboundNotAllowed):
        check_url(url, allowed)


def test_exactly_listed_loopback_is_allowed() -> None:
    allowed = (parse_origin("http://127.0.0.1:8443"),)
    check_url("http://127.0.0.1:8443/v1", allowed)
    check_url("HTTP://127.0.0.1:8443", allowed)


def test_commands_match_executable_and_argument_prefix() -> None:
    rules = parse_commands(f"{sys.executable} -m tests.support.mcp_server; # a comment\nnpx -y '@scope/server'")
    assert rules == (
        CommandRule(sys.executable, ("-m", "tests.support.mcp_server")),
        CommandRule("npx", ("-y", "@scope/server")),
    )
    sandbox = Sandbox(commands=rules)
    sandbox.check_mcp_server("ok", {"transport": "stdio", "command": "npx", "args": ["-y", "@scope/server", "--x"]})
    refused = [
        {"command": "/bin/sh", "args": ["-c", "id"]},
        {"command": "npx", "args": ["-y"]},
        {"command": "npx", "args": ["-y", "@other/server"]},
        {"command": sys.executable, "args": ["-c", "print(1)"]},
        {"command": "npx", "args": ["-y", "@scope/server"], "env": {"LD_PRELOAD": "/tmp/x.so"}},
        {"command": "npx", "args": ["-y", "@scope/server"], "env": {"PYTHONPATH": "/tmp"}},
    ]
    for config in refused:
        with pytest.raises(CommandNotAllowed):
            sandbox.check_mcp_server("evil", {"transport": "stdio", **config})


def test_mcp_secret_references_must_be_listed() -> None:
    sandbox = Sandbox(
        commands=(CommandRule("srv"),), outbound=(parse_origin("https://mcp.example.com"),), secrets=frozenset({"OK"})
    )
    sandbox.check_mcp_server("s", {"transport": "stdio", "command": "srv", "env": {"T": "${OK}"}})
    cases = [
        {"transport": "stdio", "command": "srv", "env": {"T": "${KNEO_SERV_ADMIN_API_KEY}"}},
        {"transport": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${HOME}"}},
        {"transport": "http", "url": "https://mcp.example.com/mcp", "client_key_ref": "OTHER"},
    ]
    for config in cases:
        with pytest.raises(SecretNotAllowed):
            sandbox.check_mcp_server("s", config)
    with pytest.raises(OutboundNotAllowed):
        sandbox.check_mcp_server("s", {"transport": "sse", "sse_url": "http://127.0.0.1:1/sse"})


def test_settings_parse_and_refuse_service_names(tmp_path: Path) -> None:
    commands = tmp_path / "commands"
    commands.write_text("# trusted servers\n/usr/bin/mcp-files --root /srv\n")
    env = {
        "KNEO_SERV_DATABASE_URL": "postgresql://x/y",
        "KNEO_SERV_MCP_COMMANDS": "npx -y @scope/server",
        "KNEO_SERV_MCP_COMMANDS_FILE": str(commands),
        "KNEO_SERV_OUTBOUND_ALLOWLIST": "https://api.example.com, http://127.0.0.1:11434",
        "KNEO_SERV_SECRET_ALLOWLIST": "LOCAL_LLM_API_KEY,EXAMPLE_MCP_TOKEN",
    }
    sandbox = load_agent_settings(env).sandbox
    assert [str(c) for c in sandbox.commands] == ["npx -y @scope/server", "/usr/bin/mcp-files --root /srv"]
    assert [str(o) for o in sandbox.outbound] == ["https://api.example.com:443", "http://127.0.0.1:11434"]
    assert sandbox.secrets == {"LOCAL_LLM_API_KEY", "EXAMPLE_MCP_TOKEN"}
    assert load_agent_settings({"KNEO_SERV_DATABASE_URL": "postgresql://x/y"}).sandbox == Sandbox()
    embedded = load_agent_settings({}).sandbox.commands
    assert CommandRule("python", ("examples/agents/mcp_server.py",)) in embedded
    for bad in (
        {"KNEO_SERV_SECRET_ALLOWLIST": "KNEO_SERV_ADMIN_API_KEY"},
        {"KNEO_SERV_OUTBOUND_ALLOWLIST": "api.example.com"},
        {"KNEO_SERV_MCP_COMMANDS_FILE": str(tmp_path / "missing")},
    ):
        with pytest.raises(ConfigError):
            load_agent_settings(bad)


def test_skills_root_is_never_the_state_directory(tmp_path: Path) -> None:
    state = tmp_path / "project" / ".kneo"
    base = {"KNEO_SERV_STATE_DIR": str(state), "KNEO_SERV_SPEC_ROOT": str(tmp_path / "project")}
    assert load_settings(base).skills.path is None  # the default root would contain the state directory
    skills = tmp_path / "skills"
    configured = load_settings({**base, "KNEO_SERV_SKILLS_ROOT": str(skills), "KNEO_SERV_SKILL_MAX_BYTES": "4096"})
    assert configured.skills.path == skills.resolve() and configured.skills.max_bytes == 4096
    for root in (tmp_path / "project", state, state / "inside"):
        with pytest.raises(ConfigError):
            load_settings({**base, "KNEO_SERV_SKILLS_ROOT": str(root)})

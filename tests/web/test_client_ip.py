"""client_ip: the TCP peer unless that peer is a configured trusted proxy."""

from __future__ import annotations

import json
import logging
from ipaddress import ip_network
from pathlib import Path

import pytest

from kneo.config import ConfigError, load_settings
from kneo.web import create_app
from kneo.web.client_ip import client_ip

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # untrusted peer: header ignored
        ("10.0.0.5", None, "10.0.0.5"),
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.5", "1.1.1.1, 198.51.100.1", "198.51.100.1"),  # the nearest untrusted hop, not a spoofed first
        ("10.0.0.5", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # chained trusted proxies are skipped
        ("10.0.0.5", "10.0.0.8, 10.0.0.9", "10.0.0.8"),
        ("10.0.0.5", "not-an-ip", "not-an-ip"),
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("", "198.51.100.1", ""),
    ],
)
def test_client_ip_rules(peer: str, forwarded: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded, PROXIES) == expected


def test_trusted_proxies_setting() -> None:
    settings = load_settings({"KNEO_SERV_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))
    assert load_settings({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match="KNEO_SERV_TRUSTED_PROXIES"):
        load_settings({"KNEO_SERV_TRUSTED_PROXIES": "nginx"})


def _logged_client_ip(tmp_path: Path, trusted: str | None, peer: str) -> str:
    env = {"KNEO_SERV_STATE_DIR": str(tmp_path / peer)}
    if trusted:
        env["KNEO_SERV_TRUSTED_PROXIES"] = trusted
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("kneo_serv.service")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client = create_app(load_settings(env)).test_client()
        client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1"}, environ_base={"REMOTE_ADDR": peer})
    finally:
        logger.removeHandler(handler)
    return str(json.loads(records[-1].getMessage())["client_ip"])


def test_request_log_uses_the_forwarded_address_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    assert _logged_client_ip(tmp_path, None, "172.18.0.3") == "172.18.0.3"
    assert _logged_client_ip(tmp_path, "172.16.0.0/12", "172.18.0.3") == "198.51.100.1"
    assert _logged_client_ip(tmp_path, "172.16.0.0/12", "192.0.2.4") == "192.0.2.4"

"""SSRF: only http(s) to public addresses, checked at subscription and at every delivery
(after DNS resolution, connecting to the address checked)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from promptvault import Vault
from promptvault.errors import UrlRefusedError
from promptvault.webhooks.addresses import AddressPolicy, parse_url
from promptvault.webhooks.dispatcher import Dispatcher

from .conftest import fast_settings
from .receiver import Receiver

STRICT = AddressPolicy([])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://127.0.0.1:8600/v1/keys", "127.0.0.1 is a loopback address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[::ffff:10.1.2.3]/hook", "10.1.2.3 is a private address"),
        ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
        ("http://0.0.0.0/hook", "0.0.0.0 is a private address"),
        ("http://240.0.0.1/hook", "240.0.0.1 is a private address"),
        ("http://100.64.0.1/hook", "100.64.0.1 is not a public address"),
        ("http://192.168.1.10/hook", "192.168.1.10 is a private address"),
    ],
)
def test_private_addresses_refused(url: str, reason: str) -> None:
    with pytest.raises(UrlRefusedError) as info:
        STRICT.check(url)
    assert info.value.code == "url_refused"
    assert info.value.details["field"] == "url"
    assert info.value.details["reason"] == reason


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "gopher://x", "http://user:pw@example.com/",
     "http:///nohost", "http://example.com:99999/", "http://exa mple.com/"],
)  # fmt: skip
def test_only_plain_http_urls(url: str) -> None:
    with pytest.raises(UrlRefusedError):
        parse_url(url)


def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(UrlRefusedError, match="loopback"):
        STRICT.check("http://localhost:8600/hook")


def test_allowed_networks_let_loopback_through() -> None:
    policy = AddressPolicy(["127.0.0.0/8"])
    assert str(policy.resolve(policy.check("http://localhost:9/"))) == "127.0.0.1"
    with pytest.raises(UrlRefusedError):
        policy.check("http://10.0.0.1/")


def test_refused_at_subscription_time(vault: Vault) -> None:
    with pytest.raises(UrlRefusedError):
        vault.webhooks.create("http://169.254.169.254/", actor="admin")
    assert vault.webhooks.list() == []


def test_rebinding_refused_at_delivery_time(
    sqlite_url: str, home: Path, sink: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that was public when subscribed and resolves to loopback at delivery is not
    called: the dispatcher resolves again and checks before connecting."""
    port = int(sink.url.rsplit(":", 1)[1].split("/")[0])
    answers = {"hooks.example.com": "93.184.216.34"}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host in answers:  # the network edge: DNS
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    vault = Vault(fast_settings(sqlite_url, home, webhook_allow_networks=[]))
    try:
        vault.push("p", template="v1", author="setup")
        _, hook = vault.webhooks.create(f"http://hooks.example.com:{port}/hook", actor="admin")
        answers["hooks.example.com"] = "127.0.0.1"  # rebinding
        vault.push("p", template="v2", author="setup")
        Dispatcher(vault.webhooks).run_once()
        attempt = vault.webhooks.deliveries(hook.id)[0]
        assert not attempt.ok and attempt.status_code is None
        assert attempt.error is not None and "127.0.0.1 is a loopback address" in attempt.error
        assert sink.requests == []  # never connected
    finally:
        vault.close()

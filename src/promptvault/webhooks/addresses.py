"""Which webhook URLs may be called: http(s) only, and only public addresses.

A webhook URL is chosen by whoever subscribes, and the server calls it from inside its
network, so without a check it is a way to reach the cloud metadata service
(169.254.169.254), the database or an admin port on localhost (server-side request
forgery). Private, loopback, link-local, multicast, reserved and unspecified addresses are
refused, both when the subscription is made and at every delivery, after DNS resolution;
the delivery then connects to the very address that was checked, so a name that resolves
to a public address at check time and to 127.0.0.1 a moment later (DNS rebinding) gains
nothing. ``settings.webhook_allow_networks`` lets chosen networks through (tests and
on-premises receivers).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from promptvault.errors import UrlRefusedError

__all__ = ["AddressPolicy", "IPAddress", "Target", "parse_url"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAX_URL = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def _refuse(url: str, reason: str, **details: str) -> UrlRefusedError:
    return UrlRefusedError(
        f"webhook URL {url!r} refused: {reason}",
        details={"field": "url", "reason": reason, **details},
    )


def parse_url(url: str) -> Target:
    """Check a URL's shape (http or https, a host, no credentials) and split it."""
    if not isinstance(url, str) or not url.strip() or len(url) > _MAX_URL:
        raise _refuse(str(url)[:100], f"a URL of 1..{_MAX_URL} characters is needed")
    url = url.strip()
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise _refuse(url, "it contains spaces or control characters")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _refuse(url, "only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None:
        raise _refuse(url, "credentials in the URL are not allowed (put a token in the path)")
    host = parts.hostname
    if not host:
        raise _refuse(url, "the URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise _refuse(url, "the port is not a number from 1 to 65535") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url=url, scheme=scheme, host=host, port=port, path=path)


class AddressPolicy:
    """Decides whether an address may be called, and resolves names to checked addresses."""

    def __init__(self, allow_networks: Sequence[str] = ()) -> None:
        try:
            self.allowed_networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        except ValueError as exc:
            raise UrlRefusedError(
                f"webhook_allow_networks: {exc}", details={"field": "webhook_allow_networks"}
            ) from exc

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be called, or None when it may."""
        if any(address in network for network in self.allowed_networks):
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return self.refusal(address.ipv4_mapped)
        for kind in ("loopback", "link_local", "multicast", "private", "reserved", "unspecified"):
            if getattr(address, f"is_{kind}"):
                return f"{address} is a {kind.replace('_', '-')} address"
        if not address.is_global:
            return f"{address} is not a public address"
        return None

    def resolve(self, target: Target) -> IPAddress:
        """The address to connect to for ``target``: every address its host resolves to
        must be allowed (a name with one private address among public ones is refused)."""
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                infos = socket.getaddrinfo(
                    target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
            except (OSError, UnicodeError) as exc:
                raise _refuse(target.url, f"{target.host} does not resolve ({exc})") from exc
            addresses = []
            for info in infos:
                found = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                if found not in addresses:
                    addresses.append(found)
            if not addresses:
                raise _refuse(target.url, f"{target.host} resolves to no address")
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                raise _refuse(target.url, reason, address=str(address))
        return addresses[0]

    def check(self, url: str) -> Target:
        """:func:`parse_url` and :meth:`resolve`: what a new subscription goes through."""
        target = parse_url(url)
        self.resolve(target)
        return target

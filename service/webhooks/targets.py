"""Which URLs a subscription may name, and which addresses the service will send to.

A subscription makes the service send HTTP requests wherever its URL points, from inside the
service's network. So that it cannot be turned on the service's own neighbours (a database, a
cloud metadata endpoint, an admin port on loopback), only addresses on the public internet are
called: a target that is, or resolves to, a loopback, private, link-local, shared, multicast or
otherwise reserved address is refused, unless ``WEBHOOKS_ALLOW_PRIVATE_TARGETS`` allows it (a
receiver on the same host or network, as in the tests).

The check is made twice: when the subscription is created (an address written in the URL, or a
name that is local by definition, such as ``localhost``), and on every attempt, against every
address the name resolves to then. The connection is then made to an address that was checked,
never by resolving the name again, so a name that changes its answer between the check and the
call (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class TargetRefused(ValueError):
    """The URL is not one the service will send to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A subscription's URL, taken apart: the host to name in ``Host`` and TLS, the port, and the
    path with its query, as the request line carries it."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def tls(self) -> bool:
        return self.scheme == "https"


HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_target(url: str) -> Target:
    """The URL as a target, or ``TargetRefused``: only ``http`` and ``https``, with a host, without
    user name or password (a credential in a URL would be shown to every administrator who lists
    the subscriptions) and without a fragment (never sent)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"a target URL is at most {MAX_URL_LENGTH} characters")
    if any(character.isspace() or ord(character) < 0x20 or ord(character) == 0x7F for character in url):
        raise TargetRefused("a target URL has no spaces or control characters")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"this is not a URL the service can send to: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused(f"a target URL is http:// or https://, not {scheme + ':' if scheme else 'relative'}")
    if not parts.hostname:
        raise TargetRefused("a target URL names a host, e.g. https://receiver.example.org/webhooks")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused(
            "a target URL carries no user name or password: administrators read it back; verify the signature instead"
        )
    if parts.fragment:
        raise TargetRefused("a target URL has no #fragment: it is never sent")
    if not parts.hostname.isascii():
        raise TargetRefused("write the host name in its ASCII (punycode) form, e.g. xn--bcher-kva.example")
    if not HOST_NAME.fullmatch(parts.hostname.rstrip(".")) and not _is_address(parts.hostname):
        raise TargetRefused(
            "the host is not a valid name: labels of 1 to 63 letters, digits or hyphens, separated by dots"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii():
        raise TargetRefused("write the path and query in ASCII, with other characters percent-encoded (%C3%A9)")
    return Target(url, scheme, parts.hostname.rstrip(".").lower(), port or SCHEMES[scheme], path)


def internal_reason(address: str) -> str | None:
    """Why ``address`` (an IP address in text) is not on the public internet, or None if it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return "a site-local address"
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:  # an IPv4 address inside an IPv6 one reaches that IPv4 host
            ip = embedded
    for what, test in (
        ("a loopback address", ip.is_loopback),
        ("a private address", ip.is_private),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("an unspecified address", ip.is_unspecified),
        ("a reserved address", ip.is_reserved),
    ):
        if test:
            return what
    if not ip.is_global:
        return "an address not on the public internet"
    return None


def check_written_target(target: Target, *, allow_private: bool) -> None:
    """At creation: refuses a target whose host is an internal address written out, or a name
    that is local by definition. (Other names are checked against what they resolve to at each
    attempt: ``resolve_public``.)"""
    if allow_private:
        return
    host = target.host.strip("[]")
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        raise TargetRefused(f"{target.host} is this host; set WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 to allow it")
    try:
        reason = internal_reason(host)
    except ValueError:
        return  # a name, not an address
    if reason is not None:
        raise TargetRefused(
            f"{target.host} is {reason}: the service sends only to the public internet unless "
            "WEBHOOKS_ALLOW_PRIVATE_TARGETS=1"
        )


def resolve(host: str, port: int, timeout: float) -> list[str]:
    """The addresses ``host`` resolves to, within ``timeout`` seconds (``getaddrinfo`` has no
    timeout of its own: it runs in a thread of its own, abandoned if it takes too long)."""
    answer: dict[str, object] = {}

    def lookup() -> None:
        try:
            answer["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as error:  # OSError, and UnicodeError for a name no label rule allows
            answer["error"] = error

    thread = threading.Thread(target=lookup, name="webhook-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TargetRefused(f"the name {host} did not resolve within {timeout:g} s")
    if "error" in answer:
        raise TargetRefused(f"the name {host} does not resolve: {answer['error']}")
    addresses: list[str] = []
    for _, _, _, _, sockaddr in answer["addresses"]:  # type: ignore[union-attr]
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    if not addresses:
        raise TargetRefused(f"the name {host} resolves to no address")
    return addresses


def resolve_public(target: Target, *, allow_private: bool, timeout: float) -> list[str]:
    """The addresses to connect to for ``target``: all it resolves to, each checked; if any is
    internal (and that is not allowed), ``TargetRefused`` naming it."""
    addresses = resolve(target.host.strip("[]"), target.port, timeout)
    if not allow_private:
        for address in addresses:
            if (reason := internal_reason(address)) is not None:
                raise TargetRefused(
                    f"{target.host} resolves to {address}, {reason}: refused "
                    "(WEBHOOKS_ALLOW_PRIVATE_TARGETS=1 allows it)"
                )
    return addresses

"""Outbound HTTP to URLs users influence: only public internet addresses.

A host name on an allowed list can still resolve to 127.0.0.1, 10.x or the cloud
metadata address 169.254.169.254 (a hostile DNS record, or DNS rebinding between a
check and the connection). So the check is made on the addresses actually connected
to, twice over:

- `GuardedResolver` wraps aiohttp's resolver and drops every address that is not
  public; a name with none left fails as a DNS error. The connector connects only to
  the addresses this returned (nothing is resolved again in between).
- The connector's socket factory refuses, just before `connect()`, any address not
  public: that also covers literal IPs, which aiohttp never hands to a resolver.

Loopback is allowed only when it was allowed explicitly (tests list "127.0.0.1").
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOOPBACK_NAMES = frozenset({"localhost"})


class DisallowedAddress(OSError):
    """A connection to a private, loopback, link-local, multicast, reserved or
    unspecified address was refused."""


def _address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a guarded connection may reach: public ones; loopback addresses
    listed explicitly (`allowed_loopback`, as literal hosts); and loopback addresses that
    a name listed explicitly (`loopback_names`: `localhost`) resolves to. Any other name
    that resolves to loopback is refused, even when a loopback literal is allowed."""

    allowed_loopback: frozenset[IPAddress] = frozenset()
    loopback_names: frozenset[str] = frozenset()

    @classmethod
    def for_hosts(cls, hosts: Iterable[str]) -> AddressPolicy:
        """Loopback literals (and `localhost`) in an allowed-host list stay reachable;
        nothing else on the list widens what is allowed."""
        allowed: set[IPAddress] = set()
        names: set[str] = set()
        for host in hosts:
            name = host.strip().strip("[]").lower()
            if name in _LOOPBACK_NAMES:
                names.add(name)
                allowed |= {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
                continue
            address = _address(name)
            if address is not None and address.is_loopback:
                allowed.add(address)
        return cls(frozenset(allowed), frozenset(names))

    @staticmethod
    def is_public(host: str) -> bool:
        address = _address(host)
        if address is None:
            return False  # not an address at all: never connect to it
        if isinstance(address, ipaddress.IPv6Address):
            embedded = address.ipv4_mapped or address.sixtofour
            if embedded is not None and not AddressPolicy.is_public(str(embedded)):
                return False
        return address.is_global and not (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )

    def allows(self, host: str) -> bool:
        """An address about to be connected to (a literal host, or a resolved one)."""
        address = _address(host)
        return self.is_public(host) or (address is not None and address in self.allowed_loopback)

    def allows_resolved(self, name: str, host: str) -> bool:
        """An address that DNS gave for `name`."""
        if self.is_public(host):
            return True
        address = _address(host)
        return (
            name.lower().rstrip(".") in self.loopback_names
            and address is not None
            and address.is_loopback
        )

    def check(self, host: str) -> None:
        if not self.allows(host):
            raise DisallowedAddress(f"address not allowed: {host}")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses `policy` allows."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._owns_inner = inner is None
        self.inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        kept = [r for r in results if self.policy.allows_resolved(host, r["host"])]
        if not kept:
            raise DisallowedAddress(f"{host} resolves only to addresses not allowed")
        return kept

    async def close(self) -> None:
        if self._owns_inner:
            await self.inner.close()


def socket_factory(policy: AddressPolicy) -> Callable[[AddrInfoType], socket.socket]:
    """For `TCPConnector(socket_factory=…)`: a socket, only for an allowed address."""

    def make(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        policy.check(str(address[0]))
        return socket.socket(family=family, type=type_, proto=proto)

    return make


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that reaches only the addresses `policy` allows."""

    def __init__(
        self, policy: AddressPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any
    ) -> None:
        self.guarded_resolver = GuardedResolver(policy, resolver)
        super().__init__(
            resolver=self.guarded_resolver, socket_factory=socket_factory(policy), **kwargs
        )
        self.address_policy = policy

    async def close(self, *, abort_ssl: bool = False) -> None:
        await super().close(abort_ssl=abort_ssl)
        await self.guarded_resolver.close()  # closes only a resolver it made itself


def is_guarded(session: aiohttp.ClientSession) -> bool:
    return isinstance(session.connector, GuardedConnector)


def refused_address(exc: BaseException) -> bool:
    """Whether a client error comes from this module's refusal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DisallowedAddress):
            return True
        os_error = getattr(current, "os_error", None)
        if isinstance(os_error, DisallowedAddress):
            return True
        if isinstance(os_error, OSError) and "address not allowed" in str(os_error):
            return True
        current = current.__cause__ or current.__context__
    return "address not allowed" in str(exc) or "addresses not allowed" in str(exc)

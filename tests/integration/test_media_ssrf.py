"""MediaFetcher refuses what is not a public address, on the addresses it really connects
to: a name resolving to loopback or to the metadata address, literal private and IPv6
link-local addresses, redirects there; and it caps size and time. DNS is the boundary,
so a resolver double stands in for it (the only fake here); the image server is real.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping, Sequence

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.clients.media import MediaFetcher
from bot.clients.safe_http import (
    AddressPolicy,
    DisallowedAddress,
    GuardedConnector,
    GuardedResolver,
    is_guarded,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


class MappedResolver(AbstractResolver):
    """DNS as a table: `allowed.example` → whatever the test says."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"no such host {host}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


class ImageServer:
    def __init__(self) -> None:
        self.hits: list[str] = []
        app = web.Application()
        app.router.add_get("/img", self.image)
        app.router.add_get("/big", self.big)
        app.router.add_get("/chunked", self.chunked)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/redirect", self.redirect)
        self.runner = web.AppRunner(app)
        self.port = 0

    async def start(self) -> ImageServer:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        return self

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def image(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    async def big(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=b"\0" * 5000, content_type="image/png")

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(10):
            await response.write(b"\0" * 1000)
        await response.write_eof()
        return response

    async def slow(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        await asyncio.sleep(1.5)
        return web.Response(body=PNG, content_type="image/png")

    async def redirect(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        raise web.HTTPFound(request.query["to"])


@pytest.fixture
async def server() -> AsyncIterator[ImageServer]:
    fake = await ImageServer().start()
    try:
        yield fake
    finally:
        await fake.runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "169.254.169.254", "10.0.0.7", "::1", "::ffff:127.0.0.1", "fe80::1"]
)
async def test_an_allowed_name_resolving_to_a_private_address_is_refused(
    session: aiohttp.ClientSession, server: ImageServer, address: str
) -> None:
    resolver = MappedResolver({"allowed.example": [address]})
    fetcher = MediaFetcher(
        session, allowed_hosts=["allowed.example", "127.0.0.1"], resolver=resolver, timeout=3
    )
    got = await fetcher.fetch(f"https://allowed.example:{server.port}/img")
    assert got.error == "address not allowed"
    assert resolver.asked == ["allowed.example"]
    assert server.hits == []


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "169.254.169.254", "192.168.1.1", "0.0.0.0", "[fe80::1]", "[fd00::1]"]
)
async def test_a_literal_private_address_is_refused_even_when_listed(
    session: aiohttp.ClientSession, host: str
) -> None:
    fetcher = MediaFetcher(session, allowed_hosts=[host.strip("[]")], timeout=3)
    got = await fetcher.fetch(f"https://{host}/img.png")
    assert got.error == "address not allowed"


async def test_a_redirect_to_a_private_address_is_refused(
    session: aiohttp.ClientSession, server: ImageServer
) -> None:
    resolver = MappedResolver({"allowed.example": ["169.254.169.254"]})
    fetcher = MediaFetcher(
        session,
        allowed_hosts=["127.0.0.1", "allowed.example"],
        resolver=resolver,
        max_redirects=2,
        timeout=3,
    )
    target = "https://allowed.example/latest/meta-data"
    got = await fetcher.fetch(server.url(f"/redirect?to={target}"))
    assert got.error == "address not allowed"
    assert server.hits == ["/redirect"]
    # A redirect to a literal loopback that is not listed never gets that far.
    other = MediaFetcher(session, allowed_hosts=["localhost"], max_redirects=2, timeout=3)
    got = await other.fetch(server.url("/redirect?to=http://127.0.0.2/", host="localhost"))
    assert got.error == "redirect to a host not allowed"


async def test_too_large_and_too_slow(session: aiohttp.ClientSession, server: ImageServer) -> None:
    fetcher = MediaFetcher(session, allowed_hosts=["127.0.0.1"], timeout=0.3)
    assert (await fetcher.fetch(server.url("/big"), max_bytes=1000)).error == "too large"
    assert (await fetcher.fetch(server.url("/chunked"), max_bytes=4000)).error == "too large"
    started = asyncio.get_running_loop().time()
    assert (await fetcher.fetch(server.url("/slow"))).error == "timed out"
    assert asyncio.get_running_loop().time() - started < 2


async def test_explicitly_allowed_loopback_still_works(
    session: aiohttp.ClientSession, server: ImageServer
) -> None:
    for host in ("127.0.0.1", "localhost"):
        fetcher = MediaFetcher(session, allowed_hosts=[host], timeout=3)
        got = await fetcher.fetch(server.url("/img", host=host))
        assert got.ok and got.data == PNG and got.content_type == "image/png", got
        # The guarded session lives only while downloads are under way.
        assert fetcher._own is None
    many = await MediaFetcher(session, allowed_hosts=["127.0.0.1"]).fetch_all(
        [server.url("/img")] * 6
    )
    assert all(f.ok for f in many)


async def test_a_guarded_session_is_used_as_it_is(server: ImageServer) -> None:
    policy = AddressPolicy.for_hosts(["127.0.0.1"])
    async with aiohttp.ClientSession(connector=GuardedConnector(policy)) as guarded:
        assert is_guarded(guarded)
        fetcher = MediaFetcher(guarded, allowed_hosts=["127.0.0.1"])
        assert (await fetcher.fetch(server.url("/img"))).ok
        # The connector itself refuses, whoever uses it: even a plain session.get.
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await guarded.get("http://127.0.0.2:9/")
        assert isinstance(refused.value.os_error, DisallowedAddress) or "not allowed" in str(
            refused.value
        )


async def test_the_resolver_keeps_only_public_addresses() -> None:
    inner = MappedResolver(
        {
            "mixed.example": ["127.0.0.1", "93.184.215.14", "10.1.2.3", "2606:2800:21f::1"],
            "localhost": ["127.0.0.1", "::1"],
        }
    )
    guarded = GuardedResolver(AddressPolicy.for_hosts(["127.0.0.1"]), inner)
    kept = await guarded.resolve("mixed.example", 443)
    assert [r["host"] for r in kept] == ["93.184.215.14", "2606:2800:21f::1"]
    with pytest.raises(DisallowedAddress):
        await guarded.resolve("localhost", 443)  # not listed: a literal does not allow names
    listed = GuardedResolver(AddressPolicy.for_hosts(["localhost"]), inner)
    assert len(await listed.resolve("localhost", 443)) == 2


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("127.9.9.9", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", False),  # IPv4-mapped: refused outright
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("not-an-address", False),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert AddressPolicy.is_public(address) is public
    assert AddressPolicy().allows(address) is public

"""Downloading images: fal outputs the bot re-hosts, Are.na images it trains on. Bounded
in hosts (every redirect hop too), in addresses (only public ones, checked on the
addresses actually connected to: see `safe_http`), size and time.

A failed download of one image never loses the others: each comes back as bytes or
as the reason it could not be fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.clients.safe_http import (
    AddressPolicy,
    GuardedConnector,
    is_guarded,
    refused_address,
)

log = logging.getLogger(__name__)

# fal's media hosts. Tests pass their own (loopback) explicitly.
FAL_MEDIA_HOSTS = ("fal.media", "*.fal.media", "storage.googleapis.com")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str
    data: bytes | None
    content_type: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None


class MediaFetcher:
    """Downloads from `allowed_hosts` only, and (unless `guarded=False`) only from public
    addresses: a session that is not already guarded (`safe_http.GuardedConnector`) is
    used for its headers and timeouts only, and the connections go through a guarded
    session of the fetcher's own, open while downloads are under way. `resolver` replaces
    the system's DNS resolver (tests)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        allowed_hosts: Iterable[str] = FAL_MEDIA_HOSTS,
        timeout: float = 20.0,
        concurrency: int = 4,
        max_redirects: int = 0,
        guarded: bool = True,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.session = session
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts)
        self.timeout = timeout
        # Redirects are followed by hand so that every hop is checked against the hosts.
        self.max_redirects = max_redirects
        self.guarded = guarded
        self.address_policy = AddressPolicy.for_hosts(self.allowed_hosts)
        self._resolver = resolver
        self._slots = asyncio.Semaphore(concurrency)
        self._own: aiohttp.ClientSession | None = None
        self._users = 0

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The session to download with. The fetcher's own guarded session is shared by
        overlapping downloads and closed when the last one ends: nothing to close later."""
        if not self.guarded or is_guarded(self.session):
            yield self.session
            return
        if self._own is None or self._own.closed:
            self._own = aiohttp.ClientSession(
                connector=GuardedConnector(self.address_policy, resolver=self._resolver),
                headers=self.session.headers,
                timeout=self.session.timeout,
            )
        own = self._own
        self._users += 1
        try:
            yield own
        finally:
            self._users -= 1
            if self._users == 0 and self._own is own:
                self._own = None
                await own.close()

    def host_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return False
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost"):
            return False
        host = parts.hostname.lower()
        for allowed in self.allowed_hosts:
            if allowed.startswith("*.") and host.endswith(allowed[1:]):
                return True
            if host == allowed:
                return True
        return False

    async def fetch(self, url: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Fetched:
        if not self.host_allowed(url):
            return Fetched(url, None, None, "host not allowed")
        current = url
        async with self._slots, self._client() as session:
            try:
                async with asyncio.timeout(self.timeout):
                    for hop in range(self.max_redirects + 1):
                        async with session.get(current, allow_redirects=False) as response:
                            if response.status in _REDIRECTS and hop < self.max_redirects:
                                location = response.headers.get("Location")
                                if not location:
                                    return Fetched(url, None, None, f"HTTP {response.status}")
                                current = str(response.url.join(URL(location)))
                                if not self.host_allowed(current):
                                    return Fetched(
                                        url, None, None, "redirect to a host not allowed"
                                    )
                                continue
                            return await self._read(url, response, max_bytes)
                    return Fetched(url, None, None, "too many redirects")
            except TimeoutError:
                return Fetched(url, None, None, "timed out")
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                if refused_address(exc):
                    log.warning(
                        "image download refused: not a public address",
                        extra={"host": urlsplit(current).hostname},
                    )
                    return Fetched(url, None, None, "address not allowed")
                return Fetched(url, None, None, type(exc).__name__)

    @staticmethod
    async def _read(url: str, response: aiohttp.ClientResponse, max_bytes: int) -> Fetched:
        if response.status != 200:
            return Fetched(url, None, None, f"HTTP {response.status}")
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if not content_type.startswith("image/"):
            return Fetched(url, None, None, f"not an image ({content_type or 'none'})")
        if (response.content_length or 0) > max_bytes:
            return Fetched(url, None, None, "too large")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                return Fetched(url, None, None, "too large")
        return Fetched(url, bytes(body), content_type)

    async def fetch_all(
        self, urls: Sequence[str], *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> list[Fetched]:
        results = await asyncio.gather(*(self.fetch(u, max_bytes=max_bytes) for u in urls))
        for item in results:
            if not item.ok:
                log.warning("image download failed", extra={"reason": item.error})
        return list(results)

"""An async JSON-RPC client for the Base node (`BASE_RPC_URL`).

Two kinds of failure, kept apart because they mean different things:

- `RpcUnavailable`: the node could not be asked (refused, timed out, HTTP error, an
  answer that is not JSON-RPC). A `ServiceUnavailable`, so the user is told to retry.
- `RpcError`: the node answered with a JSON-RPC error object, e.g. an `eth_call` that
  reverted. The node is fine; the request failed.

The URL often carries an API key, so it never appears in a log line or an exception:
transport exceptions (whose text can hold the URL) are reduced to a short reason and
not chained.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from typing import Any

import aiohttp

from bot.errors import ServiceUnavailable

log = logging.getLogger(__name__)

_HEX_DATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_HEX_QUANTITY = re.compile(r"0x[0-9a-fA-F]+")


class RpcUnavailable(ServiceUnavailable):
    """The Base node did not answer usefully. `reason` is for logs (never the URL)."""

    def __init__(self, reason: str) -> None:
        super().__init__("The Base network", "Please try again in a minute.")
        self.reason = reason


class RpcError(Exception):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    @property
    def is_revert(self) -> bool:
        """The called contract reverted (geth and anvil use code 3; some nodes -32000)."""
        return self.code == 3 or "revert" in self.message.lower()


class JsonRpcClient:
    """Calls one JSON-RPC endpoint over a shared aiohttp session."""

    def __init__(self, url: str, session: aiohttp.ClientSession, *, timeout: float = 10.0) -> None:
        self._url = url
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url=<hidden>)"

    async def _post(self, body: Any, what: str) -> tuple[int, bytes]:
        """One HTTP request to the node: its status and raw body."""
        try:
            async with self._session.post(
                self._url, json=body, timeout=self._timeout, allow_redirects=False
            ) as response:
                return response.status, await response.read()
        except TimeoutError:
            raise self._unavailable(what, f"no answer within {self._timeout.total} s") from None
        except aiohttp.ClientError as exc:
            # Not chained and not formatted: aiohttp's messages can include the URL.
            raise self._unavailable(what, f"transport error ({type(exc).__name__})") from None

    async def call(self, method: str, params: list[Any]) -> Any:
        """The `result` of `method(params)`. Raises `RpcUnavailable` or `RpcError`."""
        request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        status, raw = await self._post(body, method)

        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not 200 <= status < 300:
            error = payload.get("error") if isinstance(payload, dict) else None
            detail = f": {error.get('message')}" if isinstance(error, dict) else ""
            raise self._unavailable(method, f"HTTP {status}{detail}")
        if (
            not isinstance(payload, dict)
            or payload.get("id") != request_id
            or ("result" in payload) == ("error" in payload)
        ):
            raise self._unavailable(method, "the answer is not a JSON-RPC response")
        if "error" in payload:
            error = payload["error"]
            if not (
                isinstance(error, dict)
                and isinstance(error.get("code"), int)
                and isinstance(error.get("message"), str)
            ):
                raise self._unavailable(method, "malformed JSON-RPC error object")
            raise RpcError(error["code"], error["message"], error.get("data"))
        return payload["result"]

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """The results of several calls sent as one JSON-RPC batch (one HTTP request), in
        the order asked; a call the node answered with an error object is an `RpcError`
        in its place. Raises `RpcUnavailable` when the batch as a whole failed."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in zip(ids, calls, strict=True)
        ]
        what = f"batch of {len(calls)} {calls[0][0]}"
        status, raw = await self._post(body, what)
        if not 200 <= status < 300:
            raise self._unavailable(what, f"HTTP {status}")
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        # Answers may come in any order (JSON-RPC 2.0, "Batch"): matched by id.
        if not isinstance(payload, list):
            raise self._unavailable(what, "the answer is not a JSON-RPC batch response")
        by_id = {a.get("id"): a for a in payload if isinstance(a, dict)}
        results: list[Any] = []
        for request_id in ids:
            answer = by_id.get(request_id)
            if answer is None or ("result" in answer) == ("error" in answer):
                raise self._unavailable(what, "an answer of the batch is missing")
            if "error" in answer:
                error = answer["error"]
                if not (
                    isinstance(error, dict)
                    and isinstance(error.get("code"), int)
                    and isinstance(error.get("message"), str)
                ):
                    raise self._unavailable(what, "malformed JSON-RPC error object")
                results.append(RpcError(error["code"], error["message"], error.get("data")))
            else:
                results.append(answer["result"])
        return results

    async def eth_call(self, to: str | None, data: str, block: str = "latest") -> str:
        """Hex return data of a read-only call. Without `to`, `data` is creation code run
        as a "deployless" call: its constructor's return value is the result."""
        call: dict[str, str] = {"data": data}
        if to is not None:
            call["to"] = to
        return self._hex(await self.call("eth_call", [call, block]), "eth_call", _HEX_DATA)

    async def get_code(self, address: str, block: str = "latest") -> str:
        """Hex runtime code at `address`; "0x" when nothing is deployed there."""
        return self._hex(await self.call("eth_getCode", [address, block]), "eth_getCode", _HEX_DATA)

    async def chain_id(self) -> int:
        return int(self._hex(await self.call("eth_chainId", []), "eth_chainId", _HEX_QUANTITY), 16)

    def _hex(self, value: Any, method: str, pattern: re.Pattern[str]) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self._unavailable(method, "the result is not hex")
        return value

    def _unavailable(self, method: str, reason: str) -> RpcUnavailable:
        log.warning("Base RPC %s failed: %s", method, reason)
        return RpcUnavailable(reason)


__all__ = ["JsonRpcClient", "RpcError", "RpcUnavailable"]

"""The JSON-RPC client against a scripted local server: what it sends, and how each kind
of failure is reported (without ever showing the URL, which may hold an API key)."""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.clients.rpc import JsonRpcClient, RpcError, RpcUnavailable
from bot.errors import ServiceUnavailable
from tests.fakes.chain import ScriptedRpcServer

SECRET = "secret-api-key-0123456789"  # in ScriptedRpcServer.url's path


@pytest.fixture
async def server() -> AsyncIterator[ScriptedRpcServer]:
    scripted = ScriptedRpcServer()
    await scripted.start()
    try:
        yield scripted
    finally:
        await scripted.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(server: ScriptedRpcServer, session: aiohttp.ClientSession) -> JsonRpcClient:
    return JsonRpcClient(server.url, session, timeout=0.5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- what it sends and returns ---------------------------------------------------------
async def test_call_sends_json_rpc_and_returns_the_result(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    server.result({"any": ["json"]})

    assert await client.call("web3_clientVersion", []) == {"any": ["json"]}
    await client.call("eth_blockNumber", [])

    first, second = server.requests
    assert first == {
        "jsonrpc": "2.0",
        "id": first["id"],
        "method": "web3_clientVersion",
        "params": [],
    }
    assert second["id"] != first["id"]


async def test_eth_call_with_and_without_to(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    server.result("0x1626ba7e")
    assert await client.eth_call("0x" + "11" * 20, "0xabcd") == "0x1626ba7e"
    await client.eth_call(None, "0x6080", block="pending")

    assert server.requests[0]["params"] == [{"to": "0x" + "11" * 20, "data": "0xabcd"}, "latest"]
    assert server.requests[1]["params"] == [{"data": "0x6080"}, "pending"]


async def test_get_code_and_chain_id(server: ScriptedRpcServer, client: JsonRpcClient) -> None:
    server.result("0x")
    assert await client.get_code("0x" + "22" * 20) == "0x"
    assert server.requests[0] == {
        "jsonrpc": "2.0",
        "id": server.requests[0]["id"],
        "method": "eth_getCode",
        "params": ["0x" + "22" * 20, "latest"],
    }
    server.result("0x2105")
    assert await client.chain_id() == 8453


# --- the node answered: RpcError --------------------------------------------------------
async def test_json_rpc_error_object_is_rpc_error(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    server.error(3, "execution reverted", "0x08c379a0")

    with pytest.raises(RpcError) as raised:
        await client.eth_call("0x" + "11" * 20, "0x")

    assert not isinstance(raised.value, ServiceUnavailable)
    assert (raised.value.code, raised.value.message, raised.value.data) == (
        3,
        "execution reverted",
        "0x08c379a0",
    )
    assert raised.value.is_revert


async def test_other_json_rpc_errors_are_not_reverts(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    server.error(-32601, "the method eth_foo does not exist")

    with pytest.raises(RpcError) as raised:
        await client.call("eth_foo", [])

    assert raised.value.code == -32601
    assert not raised.value.is_revert


# --- the node could not be asked: RpcUnavailable ----------------------------------------
UNAVAILABLE: dict[str, tuple[str, Any]] = {
    "http 500": ("raw", ("Internal Server Error", 500)),
    "http 502 with a json-rpc error": ("error", (-32000, "upstream", None, 502)),
    "http 429": ("raw", ("Too Many Requests", 429)),
    "http 401": ("raw", ("Unauthorized", 401)),
    "redirect": ("raw", ("", 302)),
    "not json": ("raw", (b"\x89PNG not json", 200)),
    "json but not an object": ("json", ([1, 2, 3], 200)),
    "no result nor error": ("json", ({"jsonrpc": "2.0", "id": 1}, 200)),
    "another request's id": ("json", ({"jsonrpc": "2.0", "id": 999, "result": "0x"}, 200)),
    "malformed error object": ("json", ({"jsonrpc": "2.0", "id": 1, "error": "boom"}, 200)),
}


def _script(server: ScriptedRpcServer, kind: str, args: Any) -> None:
    if kind == "raw":
        body, status = args
        server.raw(body, status=status)
    elif kind == "json":
        payload, status = args
        server.json(payload, status=status)
    else:
        code, message, data, status = args
        server.error(code, message, data, status=status)


@pytest.mark.parametrize("case", sorted(UNAVAILABLE))
async def test_bad_answers_are_unavailable(
    server: ScriptedRpcServer, client: JsonRpcClient, case: str
) -> None:
    _script(server, *UNAVAILABLE[case])

    with pytest.raises(RpcUnavailable) as raised:
        await client.call("eth_chainId", [])

    assert isinstance(raised.value, ServiceUnavailable)
    assert raised.value.message == (
        "The Base network isn't answering right now. Please try again in a minute."
    )


@pytest.mark.parametrize(
    ("method", "result"),
    [("eth_call", "1626ba7e"), ("eth_call", "0x123"), ("eth_getCode", None), ("eth_chainId", "0x")],
)
async def test_results_that_are_not_hex_are_unavailable(
    server: ScriptedRpcServer, client: JsonRpcClient, method: str, result: Any
) -> None:
    server.result(result)
    call = {
        "eth_call": lambda: client.eth_call("0x" + "11" * 20, "0x"),
        "eth_getCode": lambda: client.get_code("0x" + "11" * 20),
        "eth_chainId": client.chain_id,
    }[method]

    with pytest.raises(RpcUnavailable):
        await call()


async def test_a_hanging_node_times_out(
    server: ScriptedRpcServer, session: aiohttp.ClientSession
) -> None:
    server.hang(5)
    client = JsonRpcClient(server.url, session, timeout=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(RpcUnavailable) as raised:
        await client.call("eth_chainId", [])

    assert 0.15 < loop.time() - started < 1.5
    assert "0.2 s" in raised.value.reason


async def test_a_body_that_never_finishes_times_out(
    server: ScriptedRpcServer, session: aiohttp.ClientSession
) -> None:
    server.trickle(5)
    client = JsonRpcClient(server.url, session, timeout=0.2)

    with pytest.raises(RpcUnavailable) as raised:
        await client.call("eth_chainId", [])

    assert "0.2 s" in raised.value.reason


async def test_a_closed_port_is_unavailable(session: aiohttp.ClientSession) -> None:
    client = JsonRpcClient(f"http://127.0.0.1:{closed_port()}/v2/{SECRET}", session, timeout=1)

    with pytest.raises(RpcUnavailable) as raised:
        await client.chain_id()

    assert "transport error" in raised.value.reason


# --- the URL stays secret -----------------------------------------------------------------
async def test_the_url_never_appears_in_errors_or_logs(
    server: ScriptedRpcServer,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clients = [
        JsonRpcClient(server.url, session, timeout=0.2),
        JsonRpcClient(f"http://127.0.0.1:{closed_port()}/v2/{SECRET}", session, timeout=0.2),
    ]
    scripts: list[Callable[[], None]] = [
        lambda: server.raw("nope", status=500),
        lambda: server.raw("nope", status=404),
        lambda: server.raw(b"garbage"),
        lambda: server.hang(2),
        lambda: server.error(3, "execution reverted"),
    ]
    seen: list[BaseException] = []
    for script in scripts:
        script()
        with pytest.raises((RpcUnavailable, RpcError)) as raised:
            await clients[0].eth_call("0x" + "11" * 20, "0x")
        seen.append(raised.value)
    with pytest.raises(RpcUnavailable) as raised:
        await clients[1].chain_id()
    seen.append(raised.value)

    for error in seen:
        # What a logged traceback would show: no chained transport error, no URL.
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__
        assert SECRET not in "".join(traceback.format_exception(error))
        assert SECRET not in repr(vars(error))
    assert SECRET not in repr(clients[0])
    assert caplog.records, "failures should be logged for the operator"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert "127.0.0.1" not in record.getMessage()

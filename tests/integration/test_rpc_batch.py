"""JSON-RPC batches (the payment scanner's block reads) against a scripted server and a
real node: answers matched by id whatever their order, an error object in its place,
a batch that is not answered whole is the node unavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.clients import chain as chain_reads
from bot.clients.rpc import JsonRpcClient, RpcError, RpcUnavailable
from tests.fakes.chain import DevChain, ScriptedRpcServer


@pytest.fixture
async def server() -> AsyncIterator[ScriptedRpcServer]:
    scripted = ScriptedRpcServer()
    await scripted.start()
    try:
        yield scripted
    finally:
        await scripted.stop()


@pytest.fixture
async def client(server: ScriptedRpcServer) -> AsyncIterator[JsonRpcClient]:
    async with aiohttp.ClientSession() as session:
        yield JsonRpcClient(server.url, session, timeout=0.5)


def answering(make: Any) -> Any:
    async def answer(request: web.Request, body: Any) -> web.StreamResponse:
        return web.json_response(make(body))

    return answer


async def test_answers_are_matched_by_id_and_errors_stay_in_place(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    def reversed_answers(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for call in body:
            if call["params"] == ["bad"]:
                out.append(
                    {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32000, "message": "no"}}
                )
            else:
                out.append({"jsonrpc": "2.0", "id": call["id"], "result": call["params"][0]})
        return out[::-1]

    server.respond(answering(reversed_answers))
    results = await client.batch([("m", ["a"]), ("m", ["bad"]), ("m", ["c"])])
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], RpcError) and results[1].code == -32000
    (sent,) = server.requests
    assert isinstance(sent, list) and [c["params"] for c in sent] == [["a"], ["bad"], ["c"]]
    assert await client.batch([]) == []  # nothing asked: no request
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        lambda body: body[:-1] and [{"jsonrpc": "2.0", "id": body[0]["id"], "result": 1}],
        lambda body: {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "x"}},
        lambda body: [{"jsonrpc": "2.0", "id": c["id"]} for c in body],
    ],
    ids=["an answer missing", "not a batch", "neither result nor error"],
)
async def test_a_batch_not_answered_whole_is_the_node_unavailable(
    server: ScriptedRpcServer, client: JsonRpcClient, answer: Any
) -> None:
    server.respond(answering(answer))
    with pytest.raises(RpcUnavailable) as unavailable:
        await client.batch([("m", [1]), ("m", [2])])
    assert "secret" not in unavailable.value.reason


async def test_an_http_error_is_the_node_unavailable(
    server: ScriptedRpcServer, client: JsonRpcClient
) -> None:
    server.json({"error": "rate limited"}, status=429)
    with pytest.raises(RpcUnavailable) as unavailable:
        await client.batch([("m", [1])])
    assert unavailable.value.reason == "HTTP 429"


async def test_blocks_with_transactions_from_a_real_node(
    rpc: JsonRpcClient, chain: DevChain
) -> None:
    accounts = await chain.accounts()
    sent = await chain.send_transaction(to=accounts[2], value=12345, sender=accounts[1])
    latest = await chain.block_number()
    blocks = await chain_reads.get_blocks(rpc, [latest - 1, latest])
    assert [b.number for b in blocks] == [latest - 1, latest]
    (tx,) = blocks[1].transactions
    assert (tx.hash, tx.sender, tx.to, tx.value) == (
        sent.transaction_hash.lower(),
        accounts[1].lower(),
        accounts[2].lower(),
        12345,
    )
    traces = await chain_reads.call_traces(rpc, [tx.hash])
    assert traces is not None and traces[tx.hash]["value"] == hex(12345)
    # A block the node does not have yet: unavailable for now (the scan asks again).
    with pytest.raises(RpcUnavailable):
        await chain_reads.get_blocks(rpc, [latest + 5])

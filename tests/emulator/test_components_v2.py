"""Components V2 payloads are held to Discord's rules: each component's shape by the
spec's schemas (types 9 section, 10 text display, 11 thumbnail, 12 media gallery, 14
separator, 17 container), and the message-wide rules the schemas cannot say (40
components in all, 4,000 characters of text, the IS_COMPONENTS_V2 flag, which cannot
be removed and excludes content and embeds)."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.emulator.test_emulator import BotState, build_bot
from tests.fakes.discord import DiscordEmulator, running_client

V2 = 1 << 15
IMAGE = {"url": "https://images.are.na/a.jpg"}


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def section(content: str) -> dict[str, Any]:
    return {"type": 9, "components": [text(content)], "accessory": {"type": 11, "media": IMAGE}}


def container(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 17, "components": list(children)}


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "no accessory",
        {"flags": V2, "components": [{"type": 9, "components": [text("a")]}]},
        "schema",
    ),
    (
        "11 gallery items",
        {"flags": V2, "components": [{"type": 12, "items": [{"media": IMAGE}] * 11}]},
        "schema",
    ),
    ("empty text", {"flags": V2, "components": [container(text(""))]}, "schema"),
    ("bad separator", {"flags": V2, "components": [{"type": 14, "spacing": 3}]}, "schema"),
    (
        "41 components",
        {"flags": V2, "components": [container(*[section("a")] * 13, text("b"))]},
        "components_v2_too_many",
    ),
    (
        "4001 characters",
        {"flags": V2, "components": [container(text("a" * 4000), text("b"))]},
        "components_v2_text_too_long",
    ),
    ("no flag", {"components": [container(text("a"))]}, "components"),
    (
        "content too",
        {"flags": V2, "content": "hi", "components": [container(text("a"))]},
        "components",
    ),
]


async def test_v2_payloads_are_checked_against_the_spec_and_the_totals(
    emu: DiscordEmulator,
) -> None:
    state = BotState()
    bot = build_bot(state)
    state.gate.clear()
    async with running_client(bot, emu), aiohttp.ClientSession() as http:
        ix = await emu.run_command("slow")  # the bot leaves it to us
        await emu.wait_until(lambda: state.interactions, what="the bot to take the command")
        url = f"{emu.api_base_url}/interactions/{ix.id}/{ix.token}/callback"
        for name, data, _ in BAD:
            async with http.post(url, json={"type": 4, "data": data}) as resp:
                assert resp.status == 400, name
        # The largest legal message: 40 components, 4,000 characters.
        largest = [
            container(*[section("a" * 300)] * 12, text("b" * 200)),
            text("c" * 100),
            text("d" * 100),
        ]
        async with http.post(
            url, json={"type": 4, "data": {"flags": V2, "components": largest}}
        ) as resp:
            assert resp.status in (200, 204), await resp.text()
        edit = f"{emu.api_base_url}/webhooks/{emu.application_id}/{ix.token}/messages/@original"
        async with http.patch(edit, json={"flags": 0, "components": []}) as resp:
            assert resp.status == 400  # the flag cannot be removed
        async with http.patch(edit, json={"content": "back to text"}) as resp:
            assert resp.status == 400
        kinds = [v.kind for v in emu.violations]
        state.gate.set()  # (its own late answer is a double acknowledgement: not checked)
    assert kinds[: len(BAD)] == [kind for _, _, kind in BAD]
    assert kinds[len(BAD) :] == ["components_v2_flag_removed", "components"]
    message = emu.message(ix.original_message_id)
    assert message["flags"] & V2 and len(message["components"]) == 3
    emu.violations.clear()

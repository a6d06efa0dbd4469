"""The emulator against a real, unmodified discord.py bot."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    ALICE_ID,
    BOB_ID,
    DEFAULT_GUILD_ID,
    DiscordEmulator,
    GuildSetup,
    running_client,
    spec,
)


@dataclass
class BotState:
    """What the test bot saw, for assertions."""

    errors: list[Exception] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    shards: list[int | None] = field(default_factory=list)
    interactions: list[discord.Interaction] = field(default_factory=list)


class HelpView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Thanks", custom_id="thanks", style=discord.ButtonStyle.primary)
    async def thanks(
        self, interaction: discord.Interaction, button: discord.ui.Button[HelpView]
    ) -> None:
        await interaction.response.edit_message(content="You're welcome!", view=None)

    @discord.ui.button(label="Refresh", custom_id="refresh")
    async def refresh(
        self, interaction: discord.Interaction, button: discord.ui.Button[HelpView]
    ) -> None:
        await interaction.response.defer()  # type 6: deferred update
        await interaction.edit_original_response(content="Refreshed")

    @discord.ui.select(
        custom_id="topic",
        options=[
            discord.SelectOption(label="Wallets", value="wallets"),
            discord.SelectOption(label="Training", value="training"),
        ],
    )
    async def topic(
        self, interaction: discord.Interaction, select: discord.ui.Select[HelpView]
    ) -> None:
        await interaction.response.send_message(f"topic: {select.values[0]}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    comment: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Comment", custom_id="comment"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks for: {self.comment.value}")


class EmuBot(commands.AutoShardedBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py sleeps 5 s between shard IDENTIFYs by default

    async def setup_hook(self) -> None:
        await self.tree.sync()


def build_bot(state: BotState) -> EmuBot:
    bot = EmuBot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        guild_ready_timeout=0.05,  # on_ready 50 ms after the last GUILD_CREATE (default 2 s)
        help_command=None,
    )

    @bot.tree.error
    async def on_error(interaction: discord.Interaction, error: Exception) -> None:
        state.errors.append(getattr(error, "original", error))

    @bot.tree.command(name="help", description="Show help")
    async def help_(interaction: discord.Interaction, topic: str | None = None) -> None:
        state.shards.append(interaction.guild.shard_id if interaction.guild else None)
        await interaction.response.send_message(
            f"Help on {topic or 'everything'}", ephemeral=True, view=HelpView()
        )

    @help_.autocomplete("topic")
    async def topic_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=t, value=t)
            for t in ("wallets", "training")
            if t.startswith(current)
        ]

    @bot.tree.command(name="train", description="Start a slow job")
    async def train(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("Training started")

    @bot.tree.command(name="slow", description="Answers only when the test lets it")
    async def slow(interaction: discord.Interaction) -> None:
        state.interactions.append(interaction)
        await state.gate.wait()
        await interaction.response.send_message("finally")

    @bot.tree.command(name="say", description="Repeat something")
    async def say(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text * 1000)  # 2+ chars -> over 2000

    @bot.tree.command(name="post", description="Post in the channel")
    async def post(interaction: discord.Interaction, title: str = "Report") -> None:
        await interaction.response.defer(ephemeral=True)
        embed = discord.Embed(title=title).set_image(url="attachment://report.txt")
        file = discord.File(io.BytesIO(b"report body"), "report.txt")
        assert isinstance(interaction.channel, discord.TextChannel)
        message = await interaction.channel.send("Here is the report", embed=embed, file=file)
        thread = await message.create_thread(name="discussion")
        await thread.send("Discuss here")
        await interaction.edit_original_response(content="posted")

    wallet = app_commands.Group(name="wallet", description="Wallet commands")

    @wallet.command(name="link", description="Link a wallet")
    async def link(
        interaction: discord.Interaction, address: str, user: discord.User | None = None
    ) -> None:
        who = user or interaction.user
        await interaction.response.send_message(f"linked {address} for {who.name}")

    bot.tree.add_command(wallet)

    @bot.tree.command(name="feedback", description="Open a form")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    return bot


@pytest.fixture
def state() -> BotState:
    return BotState()


@pytest.fixture
def bot(state: BotState) -> EmuBot:
    return build_bot(state)


# --------------------------------------------------------------------------- login


async def test_login_ready_and_cache(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        assert bot.user is not None and bot.user.id == emu.bot_user_id
        assert bot.application_id == emu.application_id
        guild = bot.get_guild(DEFAULT_GUILD_ID)
        assert guild is not None and {c.id for c in guild.text_channels} == {7, 8}
        assert guild.me is not None and guild.member_count == 4
        assert guild.get_member(ALICE_ID) is None  # no GUILD_MEMBERS intent: not in the cache
        channel = guild.get_channel(7)
        assert channel is not None and channel.permissions_for(guild.me).send_messages
    assert emu.identify_count == 1 and emu.resume_count == 0
    paths = [(r.method, r.route) for r in emu.requests]
    assert ("GET", "/users/@me") in paths and ("GET", "/gateway/bot") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    emu.assert_clean()


async def test_plain_text_gateway_frames(state: BotState) -> None:
    # discord.py asks for zlib-stream; it must also cope with uncompressed text frames.
    async with DiscordEmulator(gateway_compression=False) as emu:
        bot = build_bot(state)
        async with running_client(bot, emu):
            ix = await emu.run_command("help")
            assert (await ix.response())["type"] == 4
        emu.assert_clean()


async def test_sharded_bot_gets_guilds_and_interactions_on_their_shard(state: BotState) -> None:
    far_guild = 1 << 22  # (id >> 22) % 2 == 1
    guilds = [GuildSetup(), GuildSetup(id=far_guild, name="Far", channels={9: "far-general"})]
    async with DiscordEmulator(guilds=guilds, shard_count=2) as emu:
        bot = build_bot(state)
        async with running_client(bot, emu):
            assert bot.shard_count == 2 and emu.identify_count == {0: 1, 1: 1}
            assert bot.get_guild(far_guild).shard_id == 1  # type: ignore[union-attr]
            await (await emu.run_command("help", channel_id=9)).response()
            await (await emu.run_command("help", channel_id=7)).response()
        assert state.shards == [1, 0]
        emu.assert_clean()


# ------------------------------------------------------------------------ commands


async def test_command_sync_is_recorded_and_validated(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        assert emu.sync_count == 1 and emu.command_syncs[0].guild_id is None
        names = {c["name"] for c in emu.global_commands}
        assert names == {"help", "train", "slow", "say", "post", "feedback", "wallet"}
        help_cmd = next(c for c in emu.global_commands if c["name"] == "help")
        assert help_cmd["options"][0]["name"] == "topic" and help_cmd["options"][0]["autocomplete"]

        bad = [{"name": "x" * 40, "description": "too long a name", "type": 1}]
        with pytest.raises(discord.HTTPException) as caught:
            await bot.http.bulk_upsert_global_commands(emu.application_id, payload=bad)
        assert caught.value.status == 400 and caught.value.code == 50035
    assert emu.sync_count == 2 and not emu.command_syncs[-1].accepted
    assert [v.kind for v in emu.violations] == ["schema"]
    assert "0.name" in emu.violations[0].message
    assert {c["name"] for c in emu.global_commands} == names  # the bad sync changed nothing


async def test_slash_command_ephemeral_reply(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("help", options={"topic": "wallets"})
        response = await ix.response()
        assert response["type"] == 4
        assert response["data"]["content"] == "Help on wallets"
        assert response["data"]["flags"] & 64
        assert ix.acked_after is not None and ix.acked_after < 3
        message = await ix.original()
        assert message["flags"] & 64 and message["interaction_metadata"]["user"]["id"] == "42"
        buttons = message["components"][0]["components"]
        assert [b["custom_id"] for b in buttons] == ["thanks", "refresh"]
    emu.assert_clean()


async def test_slash_command_in_dm(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("help", guild_id=None, user_id=BOB_ID)
        assert "user" in ix.payload and "member" not in ix.payload
        assert (await ix.original())["content"] == "Help on everything"
    emu.assert_clean()


async def test_button_click_updates_the_message(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        message = await (await emu.run_command("help")).original()
        click = await emu.click(message, "thanks")
        response = await click.response()
        assert response["type"] == 7
        updated = await click.original()
        assert updated["id"] == message["id"]
        assert updated["content"] == "You're welcome!" and updated["components"] == []
        with pytest.raises(ValueError, match="no component"):
            await emu.click(updated, "thanks")  # the button is gone now
    emu.assert_clean()


async def test_deferred_update_then_edit(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        message = await (await emu.run_command("help")).original()
        click = await emu.click(message, "refresh")
        assert (await click.response())["type"] == 6
        updated = await click.original()  # waits for the edit that follows the deferral
        assert updated["id"] == message["id"] and updated["content"] == "Refreshed"
    emu.assert_clean()


async def test_subcommand_with_resolved_user(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("wallet link", options={"address": "0xabc", "user": BOB_ID})
        assert (await ix.original())["content"] == "linked 0xabc for bob"
        [group] = ix.payload["data"]["options"]
        assert (group["type"], group["name"]) == (1, "link")
        assert ix.payload["data"]["resolved"]["users"][str(BOB_ID)]["username"] == "bob"
        with pytest.raises(ValueError, match="unknown option"):
            await emu.run_command("wallet link", options={"adress": "typo"})
        with pytest.raises(ValueError, match="required option 'address'"):
            await emu.run_command("wallet link")
    emu.assert_clean()


async def test_select_modal_and_autocomplete(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        message = await (await emu.run_command("help")).original()
        picked = await emu.select(message, "topic", ["training"])
        assert (await picked.original())["content"] == "topic: training"

        opened = await emu.run_command("feedback")
        assert (await opened.modal())["custom_id"] == emu.modals[-1].custom_id
        submitted = await emu.submit_modal(emu.modals[-1].custom_id, {"comment": "great"})
        assert (await submitted.original())["content"] == "thanks for: great"

        choices = await emu.autocomplete("help", focused="topic", value="wa")
        assert choices == [{"name": "wallets", "value": "wallets"}]
    emu.assert_clean()


async def test_deferred_then_followup(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("train")
        assert (await ix.response())["type"] == 5
        [followup] = await ix.followups(1)
        original = await ix.original()
        # The first followup after a "thinking" deferral replaces the loading message.
        assert followup["id"] == original["id"] and original["content"] == "Training started"
        assert not original["flags"] & 128
    emu.assert_clean()


# ------------------------------------------------------------------ contract checks


@pytest.mark.parametrize("clock", ["advanced", "real"])
async def test_late_callback_is_refused_and_recorded(
    emu: DiscordEmulator, bot: EmuBot, state: BotState, clock: str
) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("slow")
        await emu.wait_until(lambda: state.interactions, what="the bot to get /slow")
        if clock == "advanced":
            emu.advance_time(3.5)
        else:
            emu.callback_deadline = 0.2
            await asyncio.sleep(0.3)
        state.gate.set()
        violation = await emu.wait_for_violation("late_callback")
        await emu.wait_until(lambda: state.errors, what="the bot to see the error")
    assert isinstance(state.errors[0], discord.NotFound) and state.errors[0].code == 10062
    assert ix.callback is None and ix.expired and "after dispatch" in violation.message
    with pytest.raises(AssertionError, match="late_callback"):
        emu.assert_clean()
    emu.assert_clean(ignore={"late_callback"})


async def test_second_callback_is_refused(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("help")
        await ix.response()
        async with aiohttp.ClientSession() as http:
            url = f"{emu.api_base_url}/interactions/{ix.id}/{ix.token}/callback"
            async with http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp:
                assert resp.status == 400
                assert (await resp.json())["code"] == 40060
    assert [v.kind for v in emu.violations] == ["double_ack"]


async def test_body_breaking_the_spec_gets_400(
    emu: DiscordEmulator, bot: EmuBot, state: BotState
) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("say", options={"text": "ab"})  # 2000 chars: fine
        assert len((await ix.response())["data"]["content"]) == 2000
        ix = await emu.run_command("say", options={"text": "abc"})  # 3000 chars
        violation = await emu.wait_for_violation("schema")
        await emu.wait_until(lambda: state.errors, what="the bot to see the 400")
        assert ix.callback is None and ix.rejected

        channel = bot.get_channel(7)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send(embed=discord.Embed(title="t" * 300))
    assert "data.content" in violation.message and "2000" in violation.message
    assert isinstance(state.errors[0], discord.HTTPException) and state.errors[0].code == 50035
    assert caught.value.status == 400 and "embeds.0.title" in emu.violations[-1].message
    assert emu.violations[-1].body["embeds"][0]["title"] == "t" * 300
    assert [len(m["content"]) for m in emu.channel_messages(7)] == [2000]  # nothing else stored


async def test_expired_token(emu: DiscordEmulator, bot: EmuBot, state: BotState) -> None:
    async with running_client(bot, emu):
        state.gate.set()
        ix = await emu.run_command("slow")
        await ix.response()
        emu.advance_time(15 * 60 + 1)
        with pytest.raises(discord.HTTPException) as caught:
            await state.interactions[0].edit_original_response(content="too late")
    assert caught.value.status == 401 and caught.value.code == 50027
    assert [v.kind for v in emu.violations] == ["expired_token"]


# ----------------------------------------------------------------------- channels


async def test_channel_message_attachment_and_thread(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        ix = await emu.run_command("post")
        assert (await ix.original())["content"] == "posted"
        [message] = emu.channel_messages(7, include_ephemeral=False)
        [attachment] = message["attachments"]
        assert emu.attachment_bytes(attachment) == b"report body"
        assert message["embeds"][0]["image"]["url"] == attachment["url"]
        async with aiohttp.ClientSession() as http, http.get(attachment["url"]) as resp:
            assert await resp.read() == b"report body"
        [thread] = emu.threads
        assert thread["id"] == message["id"] and thread["parent_id"] == "7"
        assert [m["content"] for m in emu.channel_messages(int(thread["id"]))] == ["Discuss here"]
        assert emu.sent_payloads(message)[0]["content"] == "Here is the report"
    emu.assert_clean()


async def test_missing_permission_answers_403(
    emu: DiscordEmulator, bot: EmuBot, state: BotState
) -> None:
    emu.deny(7, "create_public_threads")
    async with running_client(bot, emu):
        channel = bot.get_channel(7)
        assert isinstance(channel, discord.TextChannel)
        assert not channel.permissions_for(channel.guild.me).create_public_threads
        await emu.run_command("post")
        await emu.wait_until(lambda: state.errors, what="the bot to hit the 403")
    assert isinstance(state.errors[0], discord.Forbidden) and state.errors[0].code == 50013
    assert emu.threads == []
    emu.assert_clean()  # a 403 is not a contract violation


async def test_rate_limited_request_is_retried(emu: DiscordEmulator, bot: EmuBot) -> None:
    emu.rate_limit("POST", "/channels/{channel_id}/messages", times=1, retry_after=0.2)
    async with running_client(bot, emu):
        channel = bot.get_channel(7)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("hello")
    first, second = emu.requests_to("POST", "/channels/{channel_id}/messages")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.2
    assert [m["content"] for m in emu.channel_messages(7)] == ["hello"]
    assert sent.id == int(emu.channel_messages(7)[0]["id"])
    emu.assert_clean()


async def test_unknown_route_is_recorded(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        with pytest.raises(discord.NotFound):
            await bot.http.request(discord.http.Route("GET", "/definitely/not/discord"))
        with pytest.raises(discord.NotFound):  # in the spec, but not emulated
            await bot.http.request(discord.http.Route("GET", "/voice/regions"))
    assert [u.path for u in emu.unhandled] == ["/definitely/not/discord", "/voice/regions"]
    with pytest.raises(AssertionError, match="/definitely/not/discord"):
        emu.assert_clean()


# ------------------------------------------------------------------------ gateway


@pytest.mark.parametrize("code", [4000, None], ids=["close-4000", "tcp-abort"])
async def test_dropped_gateway_resumes_and_replays(
    emu: DiscordEmulator, bot: EmuBot, code: int | None
) -> None:
    async with running_client(bot, emu):
        await emu.drop_gateway(shard_id=0, code=code)
        ix = await emu.run_command("help")  # dispatched while disconnected: replayed
        await emu.wait_for_resume(shard_id=0)
        assert (await ix.response())["type"] == 4
        assert emu.resume_count == {0: 1} and emu.identify_count == {0: 1}
        assert emu.connection_count[0] == 2
    emu.assert_clean()


async def test_wrong_session_is_invalidated_and_reidentifies(
    emu: DiscordEmulator, bot: EmuBot
) -> None:
    async with running_client(bot, emu):
        emu.gateway.sessions[0].session_id = "forgotten"
        emu.gateway._all_sessions.clear()
        await emu.drop_gateway(shard_id=0)
        await emu.wait_until(lambda: emu.identify_count == 2, what="a new IDENTIFY")
        assert emu.gateway.stats[0].invalid_sessions == 1 and emu.resume_count == 0
        await emu.wait_for_ready()
        assert (await (await emu.run_command("help")).response())["type"] == 4


async def test_emulator_responses_match_the_spec(emu: DiscordEmulator, bot: EmuBot) -> None:
    async with running_client(bot, emu):
        await (await emu.run_command("post")).original()
        await (await emu.run_command("train")).followups(1)
        await (
            await emu.click(await (await emu.run_command("help")).original(), "thanks")
        ).response()
    checked = 0
    for request in emu.requests:
        if request.route and 200 <= request.status < 300 and request.response is not None:
            assert (
                spec.validate_response(
                    request.route, request.method, request.status, request.response
                )
                == []
            ), str(request)
            checked += 1
    assert checked >= 9

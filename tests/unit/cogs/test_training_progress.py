"""The progress card's words and its Cancel rule (pure parts of cogs/training/progress)."""

from __future__ import annotations

import re
import time

from bot.services.records import CardFacts, CardPlace, TrainingStatus, WatchedTraining
from bot.services.training.watcher import TrainingOutcome
from cogs.training import progress

FACTS = CardFacts("my-board", "My [best] board", 6, 1000, None, cancel_requested=False)
TRAINING = WatchedTraining(
    lora_id="ab" * 16,
    request_id="req",
    trigger_word="mystyle",
    wallet="0x" + "12" * 20,
    discord_user_id=42,
    channel_id=7,
    progress_message_id=9,
    credit_id=None,
    state="queued",
    created_at="2026-12-02T00:00:00.000Z",
)


def test_cancel_only_while_fal_has_it_queued_and_nobody_asked() -> None:
    assert progress.can_cancel(None, FACTS)
    assert progress.can_cancel(TrainingStatus("queued", queue_position=2), FACTS)
    assert not progress.can_cancel(TrainingStatus("running", steps_done=1, steps_total=9), FACTS)
    asked = CardFacts("my-board", None, 6, 1000, None, cancel_requested=True)
    assert not progress.can_cancel(TrainingStatus("queued", queue_position=2), asked)
    assert "Cancelling" in progress.progress_news(TrainingStatus("queued"), asked)


def test_queue_then_bar_with_the_time_left() -> None:
    assert "next in fal.ai's queue" in progress.progress_news(
        TrainingStatus("queued", queue_position=0), FACTS
    )
    assert "1 job ahead" in progress.progress_news(
        TrainingStatus("queued", queue_position=1), FACTS
    )
    news = progress.progress_news(
        TrainingStatus("running", steps_done=250, steps_total=1000, eta_seconds=600), FACTS
    )
    assert news.startswith("▰▰▰▰▰▱") and "250/1000 steps (25%)" in news
    eta = re.search(r"<t:(\d+):R>", news)
    assert eta is not None and abs(int(eta[1]) - (time.time() + 600)) < 5
    no_eta = progress.progress_news(
        TrainingStatus("running", steps_done=250, steps_total=1000), FACTS
    )
    assert "<t:" not in no_eta


def test_the_card_names_who_where_and_how_much_without_a_raw_id() -> None:
    embed = progress.progress_embed(TRAINING, None, FACTS).to_dict()
    text = embed.get("description", "")
    assert text.startswith("Started by <@42> <t:")
    assert "From [My \\[best\\] board](https://www.are.na/channel/my-board)" in text
    assert "6 images · 1000 steps" in text
    assert "footer" not in embed and TRAINING.lora_id not in str(embed)


def test_the_three_ends() -> None:
    done = progress.finished_embed(TRAINING, TrainingOutcome("completed", "https://w", None))
    cancelled = progress.finished_embed(
        TRAINING, TrainingOutcome("failed", None, "x", cancelled=True), FACTS
    )
    failed = progress.finished_embed(TRAINING, TrainingOutcome("failed", None, "No *faces*"))
    assert done.title == "Trained mystyle"
    assert cancelled.title is not None and cancelled.title.startswith("Cancelled")
    assert cancelled.colour is not None and cancelled.colour.value == 0x979C9F  # grey
    assert failed.description is not None and "No \\*faces\\*" in failed.description
    assert "Train again" in failed.description


def test_a_jump_link_to_the_card() -> None:
    place = CardPlace(7, 9)
    assert progress.card_url(1, place) == "https://discord.com/channels/1/7/9"
    assert progress.card_url(None, place) == "https://discord.com/channels/@me/7/9"

"""Reading a training's progress from fal's queue logs (tqdm lines, as fal's trainer
prints them): steps done/total and the time left, from the newest such line."""

from __future__ import annotations

from bot.clients.fal_training import LogProgress, read_progress


def logs(*messages: str) -> list[dict[str, object]]:
    return [{"message": m, "level": "INFO", "timestamp": "2026-12-02T00:00:00"} for m in messages]


def test_steps_and_time_left_from_a_tqdm_line() -> None:
    line = " 12%|█▏        | 120/1000 [00:24<02:56,  5.00it/s]"
    assert read_progress(logs(line)) == LogProgress(120, 1000, 176)


def test_the_newest_line_wins_and_an_older_estimate_is_not_reused() -> None:
    found = read_progress(
        logs(
            "Preparing images",
            " 10%|█         | 100/1000 [00:20<03:00,  5.00it/s]",
            " 20%|██        | 200/1000 [00:40<?, ?it/s]",
            "Saving checkpoint",
        )
    )
    assert found == LogProgress(200, 1000, None)


def test_hours_in_the_time_left() -> None:
    line = "  5%|▌         | 200/4000 [04:10<1:19:10,  1.25s/it]"
    assert read_progress(logs(line)) == LogProgress(200, 4000, 3600 + 19 * 60 + 10)


def test_lines_without_steps_or_with_nonsense_counts_give_nothing() -> None:
    assert read_progress(logs("Loading model", "step 3 of nothing")) == LogProgress()
    assert read_progress(logs("1200/1000 [00:01<00:01]")) == LogProgress()
    assert read_progress(None) == LogProgress()
    assert read_progress([{"message": 5}, "not a dict"]) == LogProgress()  # type: ignore[list-item]


def test_a_line_with_steps_but_no_times() -> None:
    assert read_progress(logs("step 450/1000")) == LogProgress(450, 1000, None)

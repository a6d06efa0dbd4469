"""FalGateway (fal-client underneath) against the local fake fal server over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clients.fal import FalGateway, FalRejected, FalUnavailable, configure_endpoints
from tests.fakes.fal import FakeFal


@pytest.fixture
async def fal() -> AsyncIterator[FakeFal]:
    fake = await FakeFal().start()
    configure_endpoints(fake.base_url)
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def gateway(fal: FakeFal) -> FalGateway:
    return FalGateway("fake-key:secret", poll_interval=0.01, timeout=5)


async def test_generate_sends_the_seed_settings_and_reports_queue(
    gateway: FalGateway, fal: FakeFal
) -> None:
    positions: list[int | None] = []

    async def on_queue(position: int | None) -> None:
        positions.append(position)

    fal.mode.queue_positions = [3, 2, 0]
    out = await gateway.generate(
        lora_url="https://fal.media/lora.safetensors",
        prompt="a cat",
        trigger_word="mystyle",
        on_queue=on_queue,
    )
    assert positions == [3, 2, 0]
    assert len(out.images) == 4
    assert out.seed == "18446744073709551557"
    (submitted,) = fal.submissions
    assert submitted.app == "fal-ai/flux-lora"
    assert submitted.arguments == {
        "prompt": "a cat in the style of mystyle",
        "loras": [{"path": "https://fal.media/lora.safetensors", "scale": 1.5}],
        "image_size": "square_hd",
        "num_inference_steps": 28,
        "guidance_scale": 3.5,
        "num_images": 4,
        "enable_safety_checker": True,
        "output_format": "jpeg",
    }


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda m: setattr(m, "submit_status", 500), FalUnavailable),
        (lambda m: setattr(m, "submit_status", 422), FalRejected),
        (lambda m: setattr(m, "result", "malformed"), FalUnavailable),
        (lambda m: setattr(m, "result", "error"), FalUnavailable),
    ],
)
async def test_failures_are_classified(gateway: FalGateway, fal: FakeFal, setup, error) -> None:  # type: ignore[no-untyped-def]
    setup(fal.mode)
    with pytest.raises(error):
        await gateway.generate(lora_url="u", prompt="p", trigger_word="t")


async def test_timeout_cancels_the_request(fal: FakeFal) -> None:
    fal.mode.result = "hang"
    gateway = FalGateway("fake-key:secret", poll_interval=0.01, timeout=0.3)
    with pytest.raises(FalUnavailable):
        await gateway.generate(lora_url="u", prompt="p", trigger_word="t")
    assert fal.submissions[0].cancelled


async def test_safety_filtered_result(gateway: FalGateway, fal: FakeFal) -> None:
    fal.mode.images = 2
    fal.mode.nsfw = [False, False, True, True]
    out = await gateway.generate(lora_url="u", prompt="p", trigger_word="t")
    assert len(out.images) == 2
    assert out.nsfw == (False, False, True, True)

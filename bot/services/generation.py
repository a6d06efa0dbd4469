"""`ImageGenerator`: the rules of /generate, Discord-free.

Checks run in a fixed order (prompt, wallet, LoRA, quota), each with its own message.
A batch is reserved before fal is called and released if fal fails, so a failed
generation never costs a slot and a finished one is stored exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clients.fal import FalGateway, QueueCallback
from bot.clients.media import DEFAULT_MAX_BYTES, MediaFetcher
from bot.errors import NotConfigured, UserFacingError
from bot.services.inflight import InFlight
from bot.services.quota import QuotaExceeded, QuotaLedger, QuotaStatus, Reservation
from bot.services.text import drop_invisible
from storage import generation_batches, generation_posts, loras, wallets
from storage.db import Database
from storage.generation_batches import NewImage
from storage.ids import web_app_id
from storage.loras import Lora

log = logging.getLogger(__name__)

PROMPT_MAX = 500
_LINE_BREAKS = str.maketrans("\r\n\t", "   ")
IMAGES_PER_BATCH = 4


class PromptInvalid(UserFacingError):
    pass


class WalletRequired(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "Link a wallet first: generations are counted per wallet (8 a day). "
            "Run /wallet link, then try again."
        )


class LoraUnavailable(UserFacingError):
    pass


class GenerationFailed(Exception):
    """fal (or the database) failed after a slot was reserved; the slot was released.
    Carries the batch, so a Retry button can name the request."""

    def __init__(self, cause: Exception, batch_id: str) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.batch_id = batch_id


def clean_prompt(raw: str) -> str:
    """Drop invisible characters (zero-width, bidi controls, control codes) and lone
    surrogates (no UTF-8 for them: fal's JSON and the database would fail on them), trim.

    The result is what fal sees and what is stored; emptiness and length are judged on it.
    """
    kept = drop_invisible(raw, keep="\r\n\t")
    return kept.translate(_LINE_BREAKS).strip()


def check_prompt(raw: str) -> str:
    prompt = clean_prompt(raw)
    if not prompt:
        raise PromptInvalid("The prompt is empty. Describe the image you want (1–500 characters).")
    if len(prompt) > PROMPT_MAX:
        raise PromptInvalid(
            f"The prompt is {len(prompt)} characters long; the limit is {PROMPT_MAX}. Shorten it."
        )
    return prompt


@dataclass(frozen=True, slots=True)
class Prepared:
    user_id: int
    wallet: str
    lora: Lora
    prompt: str
    weights_url: str
    # fal's `seed` input, as stored (text): the same seed, prompt and settings give the
    # same batch. None: fal picks one.
    seed: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    id: str
    url: str
    width: int | None
    height: int | None
    data: bytes | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class GenerationResult:
    batch_id: str
    prepared: Prepared
    images: tuple[GeneratedImage, ...]
    withheld: int  # images the safety filter held back
    failed_downloads: int
    seed: str | None
    quota: QuotaStatus


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: str
    discord_user_id: int
    lora_id: str
    prompt: str
    seed: str | None  # what fal used, as its images store it; None if none was stored


class ImageGenerator:
    def __init__(
        self,
        db: Database,
        quota: QuotaLedger,
        fal: FalGateway | None,
        media: MediaFetcher,
        *,
        inflight: InFlight | None = None,
    ) -> None:
        self.db = db
        self.quota = quota
        self.fal = fal
        self.media = media
        self.inflight = inflight or InFlight()

    def check_request(self, raw_prompt: str, seed: str | None = None) -> str:
        """The checks that need no database (the prompt, a stored seed): a face can
        refuse at once, before it acknowledges. Returns the prompt as it will be sent."""
        prompt = check_prompt(raw_prompt)
        if seed is not None and not seed.isdigit():
            raise PromptInvalid("That batch's seed can't be used again. Use Generate again.")
        return prompt

    async def prepare(
        self,
        user_id: int,
        lora_ref: str,
        raw_prompt: str,
        *,
        exact: bool = False,
        seed: str | None = None,
    ) -> Prepared:
        """All checks but the reservation, in order; raises the first that fails.
        `exact`: `lora_ref` is a row id from a button, matched exactly (never a near
        match or a trigger word). `seed`: a stored seed to use again."""
        prompt = self.check_request(raw_prompt, seed)
        link = await wallets.get_link(self.db, user_id)
        if link is None:
            raise WalletRequired()
        # By exact id first, then by trigger word: one round trip (`loras.find`).
        lora = await (loras.get if exact else loras.find)(self.db, lora_ref)
        if lora is None:
            raise LoraUnavailable("LoRA not found. Pick one from the list, or browse /loras.")
        if lora.status == "pending":
            raise LoraUnavailable("This LoRA is still training. Try again when it has finished.")
        if lora.status != "completed":
            raise LoraUnavailable("This LoRA's training failed, so it cannot generate images.")
        if not lora.lora_weights_url:
            raise LoraUnavailable("This LoRA has no weights file, so it cannot generate images.")
        if self.fal is None:
            raise NotConfigured("Image generation", ["FAL_KEY"])
        status = await self.quota.status(link.wallet_address)
        if not status.exempt and status.remaining == 0:
            raise QuotaExceeded(status)
        return Prepared(user_id, link.wallet_address, lora, prompt, lora.lora_weights_url, seed)

    async def run(
        self,
        prepared: Prepared,
        *,
        on_queue: QueueCallback | None = None,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
    ) -> GenerationResult:
        """Reserve a slot, call fal, fetch and store the images. A stopping bot lets
        this finish (or releases the slot) before it closes the database."""
        async with self.inflight.hold("generation"):
            return await self._run(prepared, on_queue=on_queue, max_image_bytes=max_image_bytes)

    async def _run(
        self,
        prepared: Prepared,
        *,
        on_queue: QueueCallback | None = None,
        max_image_bytes: int = DEFAULT_MAX_BYTES,
    ) -> GenerationResult:
        assert self.fal is not None  # prepare() refused otherwise
        reservation = await self.quota.reserve(
            prepared.wallet,
            user_id=prepared.user_id,
            lora_id=prepared.lora.id,
            prompt=prepared.prompt,
        )
        try:
            output = await self.fal.generate(
                lora_url=prepared.weights_url,
                prompt=prepared.prompt,
                trigger_word=prepared.lora.trigger_word,
                on_queue=on_queue,
                seed=None if prepared.seed is None else int(prepared.seed),
            )
        except Exception as exc:
            await self._release(reservation)
            raise GenerationFailed(exc, reservation.batch_id) from exc
        except BaseException:
            await self._release(reservation)
            raise
        # Images the safety checker flagged come back blank: they are withheld, not shown.
        flags = output.nsfw
        survivors = [
            image
            for index, image in enumerate(output.images)
            if not (index < len(flags) and flags[index])
        ]
        fetched = await self.media.fetch_all([i.url for i in survivors], max_bytes=max_image_bytes)
        images = tuple(
            GeneratedImage(
                id=web_app_id(),
                url=image.url,
                width=image.width,
                height=image.height,
                data=got.data,
                content_type=got.content_type or image.content_type,
            )
            for image, got in zip(survivors, fetched, strict=True)
        )
        # Rows keep fal's URL, as the web app does; Discord attachments are the lasting copy.
        rows = [NewImage(i.id, i.url, i.width, i.height, output.seed) for i in images]
        if not await self.quota.complete(reservation, rows):
            log.error("batch could not be completed", extra={"batch_id": reservation.batch_id})
        return GenerationResult(
            batch_id=reservation.batch_id,
            prepared=prepared,
            images=images,
            withheld=max(0, IMAGES_PER_BATCH - len(images)),
            failed_downloads=sum(1 for f in fetched if not f.ok),
            seed=output.seed,
            quota=await self.quota.status(prepared.wallet),
        )

    async def _release(self, reservation: Reservation) -> None:
        try:
            await self.quota.release(reservation)
        except Exception:
            # The reservation then expires by itself after its timeout.
            log.exception(
                "could not release a quota slot", extra={"batch_id": reservation.batch_id}
            )

    async def batch(self, batch_id: str) -> BatchRecord | None:
        """What a Retry / Generate again / Same seed / Delete button refers to."""
        row = await generation_batches.get(self.db, batch_id)
        if row is None:
            return None
        return BatchRecord(row.batch_id, row.discord_user_id, row.lora_id, row.prompt, row.seed)

    async def record_post(
        self, batch_id: str, *, guild_id: int | None, channel_id: int, message_id: int
    ) -> None:
        """Where a batch's images were posted (the thread, when they went into one), so
        the LoRA's page can link to Discord's own copy."""
        await generation_posts.record(
            self.db,
            batch_id,
            guild_id=None if guild_id is None else str(guild_id),
            channel_id=str(channel_id),
            message_id=str(message_id),
        )

    async def forget_post(self, batch_id: str) -> None:
        """The post was deleted: no link may point at it. The batch and its images stay
        (the web app lists them and the quota counts them)."""
        await generation_posts.remove(self.db, batch_id)

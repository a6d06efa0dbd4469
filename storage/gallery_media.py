"""What the gallery shows besides the rows themselves: each LoRA's newest generated image
(its thumbnail) and a LoRA's generated images grouped into the batches they were made in.

Each page is one round trip: the `in_db_*` functions here compose the keyset reads of
`loras` and `generated_images` with the few index seeks their pictures need.

Batches: the bot links each image it stored to its batch (`batch_images`, migration
0014), and the batch's post to its thread message (`generation_posts`). The web app
stores no batch: it inserts one request's images at once, with the same LoRA, wallet,
prompt and `created_at`, so images sharing those four (and no bot batch) are one batch.
Inside a batch, images keep the order they were stored in (`rowid`), the order fal
returned them: image 1 is fal's first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage import generated_images, generation_posts, loras
from storage.connection import Connection
from storage.db import Database
from storage.generated_images import GeneratedImage
from storage.generation_posts import GenerationPost
from storage.keyset import Mode, Window
from storage.loras import Lora, LoraFilter

BATCH_MAX = 64  # images read per batch (the bot makes 4; a hostile row cannot make more work)


@dataclass(frozen=True, slots=True)
class NumberedImage:
    number: int  # 1-based place in its batch
    image: GeneratedImage


@dataclass(frozen=True, slots=True)
class Batch:
    batch_id: str | None  # the bot's batch; None for the web app's images
    prompt: str
    wallet_address: str
    discord_user_id: str | None  # who asked, for the bot's batches
    created_at: str
    size: int  # images in the whole batch (a page may show only some)
    images: tuple[NumberedImage, ...]  # this page's, in batch order
    post: GenerationPost | None  # where Discord holds its copy, if the bot posted it


# --- Run in the database process ------------------------------------------------------------
def in_db_newest_images(conn: Connection, lora_ids: Sequence[str]) -> dict[str, str]:
    """Each LoRA's newest generated image URL: one seek of idx_gen_images_lora_created
    per LoRA (a page holds a handful)."""
    found: dict[str, str] = {}
    for lora_id in dict.fromkeys(lora_ids):
        row = conn.fetchone(
            "SELECT image_url FROM generated_images WHERE lora_training_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1",
            (lora_id,),
        )
        if row is not None and isinstance(row["image_url"], str) and row["image_url"]:
            found[lora_id] = row["image_url"]
    return found


def in_db_gallery_page(
    conn: Connection,
    flt: LoraFilter,
    mode: Mode,
    anchor_id: str | None,
    size: int,
    total: int | None,
) -> tuple[Window[Lora], dict[str, str]]:
    window = loras.in_db_gallery_window(conn, flt, mode, anchor_id, size, total)
    return window, in_db_newest_images(conn, [lora.id for lora in window.items])


def _bot_batch_ids(conn: Connection, image_ids: Sequence[str]) -> dict[str, str]:
    if not image_ids:
        return {}
    marks = ", ".join("?" for _ in image_ids)
    rows = conn.fetchall(
        f"SELECT image_id, batch_id FROM batch_images WHERE image_id IN ({marks})",  # noqa: S608
        tuple(image_ids),
    )
    return {str(r["image_id"]): str(r["batch_id"]) for r in rows}


def _members_of_bot_batch(conn: Connection, batch_id: str) -> list[str]:
    rows = conn.fetchall(
        "SELECT gi.id AS id FROM batch_images bi JOIN generated_images gi ON gi.id = bi.image_id "
        "WHERE bi.batch_id = ? ORDER BY gi.rowid LIMIT ?",
        (batch_id, BATCH_MAX),
    )
    return [str(r["id"]) for r in rows]


def _members_of_web_batch(conn: Connection, image: GeneratedImage) -> list[str]:
    rows = conn.fetchall(
        "SELECT id FROM generated_images gi WHERE lora_training_id = ? AND created_at = ? "
        "AND wallet_address = ? AND prompt = ? "
        "AND NOT EXISTS (SELECT 1 FROM batch_images bi WHERE bi.image_id = gi.id) "
        "ORDER BY rowid LIMIT ?",
        (image.lora_training_id, image.created_at, image.wallet_address, image.prompt, BATCH_MAX),
    )
    return [str(r["id"]) for r in rows]


def _requesters(conn: Connection, batch_ids: Sequence[str]) -> dict[str, str]:
    if not batch_ids:
        return {}
    marks = ", ".join("?" for _ in batch_ids)
    rows = conn.fetchall(
        f"SELECT id, discord_user_id FROM generation_batches WHERE id IN ({marks})",  # noqa: S608
        tuple(batch_ids),
    )
    return {str(r["id"]): str(r["discord_user_id"]) for r in rows}


def in_db_batches_of(conn: Connection, images: Sequence[GeneratedImage]) -> tuple[Batch, ...]:
    """`images` (one page, newest first) grouped into their batches, newest batch first;
    each batch's images in the order they were made, numbered within the whole batch."""
    bot_batch = _bot_batch_ids(conn, [i.id for i in images])
    groups: dict[tuple[str, ...], list[GeneratedImage]] = {}
    for image in images:
        batch_id = bot_batch.get(image.id)
        key: tuple[str, ...] = (
            ("bot", batch_id)
            if batch_id is not None
            else ("web", image.created_at, image.wallet_address, image.prompt)
        )
        groups.setdefault(key, []).append(image)
    bot_ids = [key[1] for key in groups if key[0] == "bot"]
    posts = generation_posts.in_db_posts_of(conn, bot_ids) if bot_ids else {}
    requesters = _requesters(conn, bot_ids)
    batches: list[Batch] = []
    for group, members in groups.items():
        first = members[0]
        batch_id = group[1] if group[0] == "bot" else None
        order = (
            _members_of_bot_batch(conn, batch_id)
            if batch_id is not None
            else _members_of_web_batch(conn, first)
        )
        place = {image_id: n for n, image_id in enumerate(order, 1)}
        # An image missing from its batch's list (past BATCH_MAX) goes after the others.
        numbered = sorted(
            (NumberedImage(place.get(i.id, len(order) + 1), i) for i in members),
            key=lambda n: (n.number, n.image.id),
        )
        batches.append(
            Batch(
                batch_id=batch_id,
                prompt=first.prompt,
                wallet_address=first.wallet_address,
                discord_user_id=requesters.get(batch_id) if batch_id is not None else None,
                created_at=first.created_at,
                size=max(len(order), len(members)),
                images=tuple(numbered),
                post=posts.get(batch_id) if batch_id is not None else None,
            )
        )
    return tuple(batches)


def in_db_detail_page(
    conn: Connection, lora_id: str, mode: Mode, anchor_id: str | None, size: int
) -> tuple[Lora | None, Window[GeneratedImage], tuple[Batch, ...]]:
    """A LoRA, one page of its generated images and their batches: one round trip."""
    lora, window = generated_images.in_db_detail(conn, lora_id, mode, anchor_id, size)
    return lora, window, in_db_batches_of(conn, window.items)


# --- Async face -----------------------------------------------------------------------------
async def gallery_page(
    db: Database,
    flt: LoraFilter,
    *,
    mode: Mode,
    anchor_id: str | None,
    size: int,
    total: int | None = None,
) -> tuple[Window[Lora], dict[str, str]]:
    """One gallery page and each of its LoRAs' newest generated image URL."""
    return await db.run(in_db_gallery_page, flt, mode, anchor_id, size, total)


async def detail_page(
    db: Database, lora_id: str, *, mode: Mode, anchor_id: str | None, size: int
) -> tuple[Lora | None, Window[GeneratedImage], tuple[Batch, ...]]:
    return await db.run(in_db_detail_page, lora_id, mode, anchor_id, size)

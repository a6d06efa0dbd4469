"""The records services hand to the faces (cogs, web pages), which import neither
`storage` nor `bot.clients` themselves: this module is the one door, so the
import-linter contracts hold and a change below shows up here."""

from __future__ import annotations

from bot.clients.arena_images import small_variant
from bot.clients.fal_training import TrainingStatus
from storage.db import DatabaseError
from storage.gallery_media import Batch, NumberedImage
from storage.generated_images import GeneratedImage
from storage.generation_posts import GenerationPost
from storage.keyset import Mode
from storage.loras import COMPLETED, Lora, LoraChoice, LoraFilter
from storage.timefmt import read_time, utc_clock
from storage.training_news import CardFacts, CardPlace
from storage.training_orders import Order, TrainingSummary
from storage.trainings import WatchedTraining
from storage.wallets import WalletLink

__all__ = [
    "COMPLETED",
    "Batch",
    "CardFacts",
    "CardPlace",
    "DatabaseError",
    "GeneratedImage",
    "GenerationPost",
    "Lora",
    "LoraChoice",
    "LoraFilter",
    "Mode",
    "NumberedImage",
    "Order",
    "TrainingStatus",
    "TrainingSummary",
    "WalletLink",
    "WatchedTraining",
    "read_time",
    "small_variant",
    "utc_clock",
]

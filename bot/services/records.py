"""The records services hand to the faces (cogs, web pages), which never import
`storage` themselves: this module is the one door, so the import-linter contract
"cogs do not import storage" holds and a storage change shows up here."""

from __future__ import annotations

from storage.db import DatabaseError
from storage.generated_images import GeneratedImage
from storage.keyset import Mode
from storage.loras import COMPLETED, Lora, LoraChoice, LoraFilter
from storage.training_orders import Order
from storage.trainings import WatchedTraining
from storage.wallets import WalletLink

__all__ = [
    "COMPLETED",
    "DatabaseError",
    "GeneratedImage",
    "Lora",
    "LoraChoice",
    "LoraFilter",
    "Mode",
    "Order",
    "WalletLink",
    "WatchedTraining",
]

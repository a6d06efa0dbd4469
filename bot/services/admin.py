"""`AdminWallets`: the wallets in ADMIN_WALLETS, which train without paying and generate
without a quota. One value, built once by the composition root and handed to the
credit and quota ledgers, so "is this an admin?" is answered the same way everywhere:
by the address, compared case-insensitively (wallets, basescan and the web app's rows
disagree on case)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AdminWallets:
    addresses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, wallets: Iterable[str]) -> AdminWallets:
        return cls(frozenset(w.strip().lower() for w in wallets if w.strip()))

    def __contains__(self, wallet: object) -> bool:
        return isinstance(wallet, str) and wallet.strip().lower() in self.addresses

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.addresses))

    def __len__(self) -> int:
        return len(self.addresses)


NO_ADMINS = AdminWallets()

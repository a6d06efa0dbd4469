"""The browser tests drive the real bot too: reuse the end-to-end fixtures."""

from tests.e2e.conftest import emulator, harness, restore_discord_endpoints

__all__ = ["emulator", "harness", "restore_discord_endpoints"]

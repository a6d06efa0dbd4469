"""Helpers shared by the test layers: rows, payment flows, functions run in the database process."""

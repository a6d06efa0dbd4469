"""Discord views (buttons, selects) and the messages they belong to."""

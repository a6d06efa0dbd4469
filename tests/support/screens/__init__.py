"""Pictures of what the bot posts: recorded Discord payloads drawn as HTML in Discord's
dark theme (`render_html`) and photographed in headless Chromium (`Camera`, or
`screenshot` for a one-off)::

    from tests.support.screens import attachments_of, screenshot

    message = emulator.message(message_id)  # as it stands after the bot's edits
    await screenshot(message, "my-screen", attachments=attachments_of(emulator, message))
    # -> test-artifacts/screens/my-screen-desktop.png, my-screen-phone.png (+ .html, .json)
"""

from .camera import SCREENS, Camera, attachments_of, screenshot
from .render import render_html

__all__ = ["SCREENS", "Camera", "attachments_of", "render_html", "screenshot"]

"""Pictures of what the bot posts: recorded Discord payloads drawn as HTML in Discord's
dark theme (`render_html`) and photographed in headless Chromium (`Camera`)."""

from .camera import SCREENS, Camera, attachments_of
from .render import render_html

__all__ = ["SCREENS", "Camera", "attachments_of", "render_html"]

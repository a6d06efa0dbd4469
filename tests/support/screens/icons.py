"""Small inline SVG icons: the machine has no emoji font, and Discord draws these as
icons anyway."""

EYE = (
    '<svg class="icon" width="16" height="16" viewBox="0 0 24 24"><path fill="currentColor" '
    'd="M12 5C5.6 5 2 12 2 12s3.6 7 10 7 10-7 10-7-3.6-7-10-7zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 '
    '0 8zm0-2.2a1.8 1.8 0 1 0 0-3.6 1.8 1.8 0 0 0 0 3.6z"/></svg>'
)
FILE = (
    '<svg class="file-icon" width="30" height="40" viewBox="0 0 30 40">'
    '<path fill="#5865f2" d="M0 4a4 4 0 0 1 4-4h15l11 11v25a4 4 0 0 1-4 4H4a4 4 0 0 1-4-4z"/>'
    '<path fill="#a5acf8" d="M19 0v8a3 3 0 0 0 3 3h8z"/></svg>'
)
THREAD = (
    '<svg class="icon" width="16" height="16" viewBox="0 0 24 24"><path fill="currentColor" '
    'd="M4 3h12a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>'
)

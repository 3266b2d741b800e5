"""The listen pages' CSS and script, sent inside the page rather than as two more requests:
on one bar of signal every round trip is felt (bench/listen_page.py). The Content-Security-
Policy still forbids inline code; it allows exactly these two texts by their hashes."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from markupsafe import Markup

STATIC = Path(__file__).resolve().parent.parent / "static"
LISTEN_CSS = (STATIC / "listen.css").read_text(encoding="utf-8")
LISTEN_JS = (STATIC / "listen.js").read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def listen_asset(name: str) -> Markup:
    """The text itself, trusted: it is ours, read from static/ when the app starts."""
    return Markup({"css": LISTEN_CSS, "js": LISTEN_JS}[name])

"""Talking to the listen page as a phone does."""
from __future__ import annotations

import json
import re


def audio_urls(html: str) -> list[str]:
    return re.findall(r'data-src="([^"]+)"', html) or re.findall(r'<audio id="audio"[^>]*src="([^"]+)"', html)


def beat(client, token, rendition, event, claimed=0.0, position=0.0):
    body = json.dumps({"t": token, "r": rendition, "e": event, "d": claimed, "p": position})
    return client.post("/listen/beat", data=body, content_type="text/plain")

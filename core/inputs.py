"""What people type, with the characters nobody types taken out. NUL and the other C0
control characters (and DEL) come only from scripts and damaged files: SQLite stores them,
PostgreSQL refuses them (every such request a 500), spreadsheets and terminals misread them.
Tab, line feed and carriage return stay — they are how text is laid out. Every input
boundary (forms, query strings, URL parts, JSON, uploaded tables, the command line) passes
its strings through `clean`."""
from __future__ import annotations

import re
from typing import Any

_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(value: str) -> str:
    return _CONTROLS.sub("", value) if _CONTROLS.search(value) else value


def clean_json(value: Any) -> Any:
    """A decoded JSON document with every string (keys too) cleaned."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean(key) if isinstance(key, str) else key: clean_json(item) for key, item in value.items()}
    return value

"""Reading a FAT image the way a plug-in player does: Debian's fatsort lists each folder in
its directory order, which is the order the player plays."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.helpers.tools import require_tool

ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C.UTF-8"}


def fatsort_order(image: Path, folder: str) -> list[str]:
    tool = require_tool("fatsort")
    out = subprocess.run([tool, "-l", str(image)], capture_output=True, text=True, env=ENV, check=True).stdout
    listing, current = {}, None
    for line in out.splitlines():
        if line.startswith("/"):
            current = line.rstrip("/").split("/")[-1] if line != "/" else ""
            listing[current] = []
        elif line.strip() and current is not None and not line.startswith("File system"):
            listing[current].append(line.strip())
    return listing[folder]

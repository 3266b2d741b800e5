"""Reading printed pages back with independent tools: pdftoppm rasterises, zbarimg scans."""
from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.tools import require_tool

DPI = 150


def rasterise(pdf: Path, out: Path) -> list[Path]:
    subprocess.run([require_tool("pdftoppm"), "-r", str(DPI), "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))


def decode(png: Path) -> list[str]:
    result = subprocess.run([require_tool("zbarimg"), "-q", "--raw", str(png)], capture_output=True, text=True)
    assert result.returncode in (0, 4), result.stderr
    return [line for line in result.stdout.splitlines() if line]

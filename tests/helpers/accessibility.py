"""The accessibility judges from npm (axe-core, Lighthouse) as tests use them: missing tools
fail in CI and skip elsewhere."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent.parent / ".tools" / "node_modules"
AXE = TOOLS / "axe-core" / "axe.min.js"
LIGHTHOUSE = TOOLS / ".bin" / "lighthouse"


def need(path: Path) -> Path:
    if path.exists():
        return path
    message = f"{path.relative_to(TOOLS.parent.parent)} is missing (scripts/test.sh installs it with npm)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )

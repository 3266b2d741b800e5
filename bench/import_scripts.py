"""Import benchmark: scripts of the worst shapes at the 2 MB upload limit, each imported as an
upload is (decoding, format, clean-up, title, the listening-time estimate and the batch
checks the review page shows), printed beside the raw tool reading the same bytes (lxml
parsing the docx's XML, Python decoding and splitting the text). The reading preview of the
whole text (segmentation, which a render and the lesson page do) is printed too, not held to
the goal: no real lesson is this long, and the importer offers to split one over an hour.

Goal: every shape imports in < 5 s on this machine class (2 cores). A docx is a zip, so its
worst shape is the most XML that is still accepted (core.importer.formats.MAX_DOCX_XML_BYTES).
Run: .venv/bin/python bench/import_scripts.py
"""
from __future__ import annotations

import argparse
import io
import sys
import zipfile
from copy import deepcopy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from normalise import best_of  # noqa: E402  (this folder is on the path when a bench runs)

from audio.segment import segment_text  # noqa: E402
from core.import_checks import check_batch  # noqa: E402
from core.importer import Limits, inspect_batch  # noqa: E402
from core.importer.formats import MAX_DOCX_XML_BYTES  # noqa: E402
from core.lessons import listening_seconds, spoken_units  # noqa: E402

CHARS_PER_MINUTE = 250

MB2 = 2 * 1024 * 1024
PARAGRAPH_XML_BYTES = 36  # <w:p><w:r><w:t>字</w:t></w:r></w:p> as python-docx saves it
GOAL_SECONDS = 5.0
# Shapes that made text handling quadratic before (tests/test_linear_time.py).
UNITS = [" *x", "_a", "`a", "1", "1 ", " ", "a", "<", "[", "#", ">", "![", "[a](", "1.1", "-1", "1,000,", "a.",
         "**", "~~", "http://a", "1年1月", "1/", "1:", " ,", "中"]


def pathological(separator: str) -> bytes:
    share = MB2 // len(UNITS) - 1
    return separator.join(unit * (share // len(unit.encode())) for unit in UNITS).encode()[:MB2]


def short_lines() -> bytes:
    return ("字\n" * (MB2 // 4)).encode()[:MB2]


def docx_paragraphs(fill: int) -> bytes:
    """One-character paragraphs until the document's XML is just under `fill` bytes."""
    import docx

    document = docx.Document()
    paragraph = document.add_paragraph("字")._p
    body = document.element.body
    for _ in range(int(fill * 0.9) // PARAGRAPH_XML_BYTES):
        body.append(deepcopy(paragraph))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_table(fill: int) -> bytes:
    """A three-column table whose rows fill the document's XML to just under `fill` bytes."""
    import docx

    def build(rows: int) -> bytes:
        document = docx.Document()
        table = document.add_table(rows=1, cols=3)
        table.rows[0].cells[0].text, table.rows[0].cells[1].text = "时间", "地点"
        row = table.rows[0]._tr
        for _ in range(rows):
            table._tbl.append(deepcopy(row))
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()

    def xml_size(data: bytes) -> int:
        return zipfile.ZipFile(io.BytesIO(data)).getinfo("word/document.xml").file_size

    per_row = (xml_size(build(1000)) - xml_size(build(0))) / 1000
    return build(int(fill * 0.9 / per_row))


def raw(name: str, data: bytes) -> None:
    if name.endswith(".docx"):
        from lxml import etree

        etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))
    else:
        data.decode("utf-8").splitlines()


def ours(name: str, data: bytes) -> str:
    [upload] = inspect_batch([(name, data)], Limits())
    assert upload.status == "ok", (name, upload.error)
    spoken_units.cache_clear()
    check_batch([upload.script], [], first_number=1,
                minutes=lambda text: listening_seconds(text, CHARS_PER_MINUTE) / 60)
    return upload.script.text


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    cases = [
        ("markers.md", pathological("\n")),
        ("one-line.txt", pathological(" ")),
        ("short-lines.txt", short_lines()),
        ("paragraphs.docx", docx_paragraphs(MAX_DOCX_XML_BYTES)),
        ("table.docx", docx_table(MAX_DOCX_XML_BYTES)),
    ]
    worst = 0.0
    print(f"{'script':<18}{'bytes':>10}{'import s':>10}{'raw s':>8}{'ratio':>8}{'preview s':>11}")
    for name, data in cases:
        assert len(data) <= MB2, (name, len(data))
        mine = best_of(2, lambda name=name, data=data: ours(name, data))
        floor = best_of(2, lambda name=name, data=data: raw(name, data))
        text = ours(name, data)
        preview = best_of(1, lambda text=text: segment_text(text))
        worst = max(worst, mine)
        print(f"{name:<18}{len(data):>10}{mine:>10.2f}{floor:>8.2f}{mine / floor:>7.0f}×{preview:>11.1f}")
    print(f"slowest: {worst:.2f} s (goal < {GOAL_SECONDS:.0f} s): {'met' if worst < GOAL_SECONDS else 'NOT met'}")
    return 0 if worst < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

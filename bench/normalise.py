"""Reading pipeline benchmark: a 50,000-character lesson through normalise + lexicon + segment,
printed beside WeTextProcessing's Chinese normaliser alone on the same text.

Goal: the whole pipeline in ≤ 1 s on this machine (the lesson page's preview and every render
run it); the lexicon is the six entries a new installation is seeded with. The text is built from the reading case table (tests/data/reading_table.tsv): real
notice sentences dense with numbers, dates, codes and symbols, repeated into paragraphs.
Run: .venv/bin/python bench/normalise.py
"""
from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audio.segment import segment_text  # noqa: E402

CHARS = 50_000


def lesson() -> str:
    with (ROOT / "tests" / "data" / "reading_table.tsv").open(encoding="utf-8", newline="") as file:
        sentences = [row["written"] for row in csv.DictReader(file, delimiter="\t") if row["language"] == "cmn"]
    paragraphs, size, index = [], 0, 0
    while size < CHARS:
        paragraph = "".join(sentences[(index + k) % len(sentences)] for k in range(6))
        paragraphs.append(paragraph)
        size += len(paragraph) + 1
        index += 6
    return "\n".join(paragraphs)[:CHARS]


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def public_sets() -> None:
    """The public Chinese test cases kept under tests/data (WeTextProcessing's and
    NeMo-text-processing's): how many we read exactly as the reference, and how many are
    right for a listener (the recorded verdict, while we still read the case as recorded)."""
    from audio.text import normalise

    for name, label in (("wetextprocessing_zh", "WeTextProcessing"), ("nemo_zh", "NeMo-text-processing")):
        with open(ROOT / "tests" / "data" / f"{name}.tsv", encoding="utf-8", newline="") as fh:
            cases = list(csv.DictReader(fh, delimiter="\t"))
        same = sum(normalise(case["written"]) == case["reference"] for case in cases)
        acceptable = sum(case["verdict"] != "ours wrong" and normalise(case["written"]) == case["ours"]
                         for case in cases)
        print(f"public set ({len(cases)} {label} cases): same as the reference {same / len(cases):.0%}, "
              f"right for a listener {acceptable / len(cases):.0%} (goal ≥ 95 %)")


def main() -> None:
    global CHARS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=CHARS, help="length of the lesson normalised (characters)")
    CHARS = parser.parse_args().chars
    text = lesson()
    lexicon = {"六安": "陆安", "蚌埠": "棒步", "重阳节": "崇阳节", "朝阳社区": "潮阳社区", "长者": "掌者", "番禺": "潘禺"}
    ours = best_of(3, lambda: segment_text(text, 1500, lexicon=lexicon))
    print(f"lesson: {len(text):,} characters, {text.count(chr(10)) + 1} paragraphs")
    print(f"ours (normalise + lexicon + segment): {ours:.2f} s   goal ≤ 1 s: {'ok' if ours <= 1 else 'MISSED'}")
    public_sets()
    try:
        from tn.chinese.normalizer import Normalizer
    except ImportError:
        print("WeTextProcessing: not installed (pip install -e '.[test]')")
        return
    logging.getLogger("wetext-zh_normalizer").setLevel(logging.WARNING)
    library = Normalizer()
    theirs = best_of(1, lambda: [library.normalize(line) for line in text.split("\n")])
    print(f"WeTextProcessing normalize alone, per paragraph: {theirs:.2f} s")
    print(f"ratio ours / WeTextProcessing: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()

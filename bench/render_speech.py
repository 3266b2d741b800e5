"""Speech rendering benchmark: prints ratios against the raw tool on the same work.

(a) Warm render of an unchanged demo lesson (every segment cached) as a share of its cold render
    through the edge engine, with the engine calls each made. Goal: under 5 %, zero calls.
(b) A 5,000-character lesson through our edge engine (concurrency 3) vs. plain edge-tts called
    sequentially one paragraph at a time. Goal: at least 2.5x faster.

Both run against the local fake edge service (its own process) with 300 ms latency per
request, so the numbers measure our pipeline, not the internet. Run: .venv/bin/python bench/render_speech.py
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import edge_tts  # noqa: E402
import edge_tts.communicate  # noqa: E402

from audio.cache import SegmentCache  # noqa: E402
from audio.engines.edge import EdgeEngine  # noqa: E402
from audio.engines.espeak import EspeakEngine  # noqa: E402
from audio.speech import Speaker  # noqa: E402
from core.importer import Limits, parse_script  # noqa: E402

LATENCY = 0.3
VOICE = "mandarin-xiaoxiao"


def demo_lessons() -> list[str]:
    folder = resources.files("core.demo")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".md"))
    return [parse_script(n, folder.joinpath(n).read_bytes(), Limits()).text for n in names]


def long_lesson(chars: int = 5000) -> str:
    """Real community text: the demo lessons one after another, headings included."""
    lines: list[str] = []
    for text in demo_lessons() * 2:
        for line in text.split("\n"):
            if line.strip() and sum(len(x) for x in lines) < chars:
                lines.append(line)
    return "\n".join(lines)


async def plain_edge_tts(paragraphs: list[str]) -> None:
    for paragraph in paragraphs:
        audio = b""
        async for chunk in edge_tts.Communicate(paragraph, "zh-CN-XiaoxiaoNeural", rate="-10%").stream():
            if chunk["type"] == "audio":
                audio += chunk["data"]
        assert audio


def main() -> None:
    global LATENCY
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=LATENCY, help="seconds the fake service takes per request")
    LATENCY = parser.parse_args().latency
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.fake_edge", "--latency", str(LATENCY)],
        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    url = server.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = EdgeEngine(url=url)
            speaker = Speaker({"edge": engine, "espeak": EspeakEngine()}, SegmentCache(Path(tmp)))

            print(f"(a) warm vs cold render, demo lessons, {LATENCY * 1000:.0f} ms per request")
            cold_total = warm_total = 0.0
            for index, text in enumerate(demo_lessons(), start=1):
                start = time.perf_counter()
                cold = speaker.render(text, VOICE, rate=-10)
                cold_s = time.perf_counter() - start
                start = time.perf_counter()
                warm = speaker.render(text, VOICE, rate=-10)
                warm_s = time.perf_counter() - start
                cold_total, warm_total = cold_total + cold_s, warm_total + warm_s
                print(f"    lesson {index}: cold {cold_s:6.2f} s ({cold.engine_calls} calls)   "
                      f"warm {warm_s:6.3f} s ({warm.engine_calls} calls)   warm/cold {warm_s / cold_s:6.2%}")
            print(f"    all: warm/cold = {warm_total / cold_total:.2%}  (goal < 5%, zero calls)")

            lesson = long_lesson()
            paragraphs = [line.removeprefix("# ") for line in lesson.split("\n")]
            print(f"(b) {len(lesson)}-character lesson, {len(paragraphs)} paragraphs")
            edge_tts.communicate.WSS_URL = url
            asyncio.run(plain_edge_tts(paragraphs))  # warm the fake's audio so neither side pays for it
            start = time.perf_counter()
            asyncio.run(plain_edge_tts(paragraphs))
            plain_s = time.perf_counter() - start
            fresh = Speaker({"edge": EdgeEngine(url=url), "espeak": EspeakEngine()},
                            SegmentCache(Path(tmp) / "b"))
            start = time.perf_counter()
            ours = fresh.render(lesson, VOICE, rate=-10)
            ours_s = time.perf_counter() - start
            print(f"    plain edge-tts, sequential by paragraph: {plain_s:6.2f} s ({len(paragraphs)} requests)")
            print(f"    xiangyin edge engine, concurrency 3:     {ours_s:6.2f} s ({ours.engine_calls} requests)")
            print(f"    speed-up: {plain_s / ours_s:.2f}x  (goal >= 2.5x)")
    finally:
        server.stdin.close()
        server.wait(10)


if __name__ == "__main__":
    main()

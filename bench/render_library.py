"""Library rendering benchmark (offline voice): prints times and ratios against the raw tools.

- cold: the demo library rendered from nothing (speech, mastering, tags, store) by the
  product's own job runner with its default two worker threads;
- warm: the same request again, unchanged (goal: 0 engine calls);
- re-master: renditions dropped but the segment cache kept, as after a settings change
  (goal: 0 engine calls);
- floor: for the same lessons, raw espeak-ng synthesis of the normalised text plus one ffmpeg
  loudness analysis (EBU R128 with true peak) and one MP3 encode of that audio, run directly
  sequentially (goal: cold ≤ 1.5 × floor);
- peak memory rendering a 50,000-character lesson, in a fresh process (goal < 300 MB).

Run: .venv/bin/python bench/render_library.py
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audio.engines import SpeechRequest  # noqa: E402
from audio.engines.espeak import EspeakEngine  # noqa: E402
from audio.master import ffmpeg  # noqa: E402
from audio.segment import segment_text  # noqa: E402
from audio.voices import get_voice  # noqa: E402

CALLS = {"n": 0}
_synthesize = EspeakEngine.synthesize


def counting(self, request):
    CALLS["n"] += 1
    return _synthesize(self, request)


EspeakEngine.synthesize = counting


def make_app(data_dir: str):
    from app import create_app, settings_of
    from core.demo import load_demo

    app = create_app({"DATA_DIR": data_dir})
    db = app.extensions["xiangyin.db"]
    db.upgrade()
    with db.session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    return app


def render_all(app) -> float:
    """Queue every lesson and let the product's own runner (JOB_THREADS workers) do them."""
    from sqlalchemy import select

    from app import job_runner, settings_of
    from core.lessons import list_series
    from core.models import Job
    from core.rendering import request_render

    db = app.extensions["xiangyin.db"]
    start = time.perf_counter()
    with db.session() as session:
        for series in list_series(session):
            for lesson in series.lessons:
                request_render(session, lesson, settings_of(app))
    runner = job_runner(app)
    runner.start()
    while True:
        with db.session() as session:
            if session.scalar(select(Job.id).where(Job.status.in_(("queued", "running")))) is None:
                break
        time.sleep(0.05)
    runner.stop()
    return time.perf_counter() - start


def floor(app) -> float:
    """What the raw tools need for the same lessons: synthesis, one analysis, one encode."""
    from sqlalchemy import select

    from core.models import Lesson

    voice = get_voice("offline-mandarin")
    engine = EspeakEngine()
    with app.extensions["xiangyin.db"].session() as session:
        texts = [lesson.text for lesson in session.scalars(select(Lesson))]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for index, text in enumerate(texts):
            spoken = " ".join(s.text for s in segment_text(text, engine.byte_limit))
            wav = Path(tmp) / f"{index}.wav"
            wav.write_bytes(_synthesize(engine, SpeechRequest(spoken, voice, rate=-10)).data)
            subprocess.run([ffmpeg(), "-v", "error", "-nostats", "-i", str(wav), "-af",
                            "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], check=True)
            subprocess.run([ffmpeg(), "-v", "error", "-i", str(wav), "-ac", "1", "-ar", "44100", "-c:a",
                            "libmp3lame", "-b:a", "64k", "-y", str(Path(tmp) / f"{index}.mp3")], check=True)
    return time.perf_counter() - start


MEMORY_PROBE = r"""
import resource, sys, tempfile
sys.path.insert(0, sys.argv[1])
from app import settings_of
from bench.render_library import make_app, render_all
from core.lessons import add_lesson, create_series
paragraph = "社区党员要按时参加组织生活，认真学习党的理论，积极帮助身边的困难群众。" * 4
with tempfile.TemporaryDirectory() as tmp:
    app = make_app(tmp)
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "长课", actor="基准测试")
        add_lesson(session, series, "五万字", "\n".join([paragraph] * (50000 // len(paragraph) + 1)))
        session.commit()
    from core.worker import InProcessRunner
    from core.rendering import request_render
    from core.models import Lesson
    from sqlalchemy import select
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.scalar(select(Lesson).where(Lesson.title == "五万字"))
        rendition, _ = request_render(session, lesson, settings_of(app))
        chars = len(lesson.text)
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app), threads=1).run_until_idle()
    from core.models import Rendition
    with app.extensions["xiangyin.db"].session() as session:
        r = session.get(Rendition, rendition.id)
        print(chars, r.status, round(r.duration or 0), r.error)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(tmp)
        CALLS["n"] = 0
        cold = render_all(app)
        cold_calls = CALLS["n"]
        CALLS["n"] = 0
        warm = render_all(app)
        warm_calls = CALLS["n"]
        from core.models import Rendition

        with app.extensions["xiangyin.db"].session() as session:
            session.query(Rendition).delete()
            session.commit()
        CALLS["n"] = 0
        remaster = render_all(app)
        remaster_calls = CALLS["n"]
        raw = floor(app)
    print("Demo library, offline voice (espeak-ng), 8 lessons")
    print(f"  cold render:        {cold:7.2f} s  ({cold_calls} engine calls)")
    print(f"  warm, unchanged:    {warm:7.2f} s  ({warm_calls} engine calls; goal 0)")
    print(f"  re-master, cached:  {remaster:7.2f} s  ({remaster_calls} engine calls; goal 0)")
    print(f"  floor (raw tools):  {raw:7.2f} s  (espeak-ng + one ebur128 analysis + one MP3 encode)")
    print(f"  cold / floor:       {cold / raw:7.2f} x  (goal <= 1.5x)")
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ROOT)], capture_output=True, text=True, check=True)
    summary, memory = out.stdout.strip().splitlines()[-2:]
    chars, status, seconds, *_ = summary.split(" ")
    own, children = (int(x) / 1024 for x in memory.split())
    print(f"50,000-character lesson: {chars} characters, {status}, {int(seconds) / 60:.0f} minutes of audio")
    print(f"  peak memory: {own:.0f} MB in Python, {children:.0f} MB largest ffmpeg child  (goal < 300 MB)")


if __name__ == "__main__":
    main()

"""A first play over one bar of signal, measured the way a listener meets it: Chromium on a
phone screen behind a relay whose one slow link carries the page, the audio, the service
worker and the heartbeats together. Used by tests/test_one_bar.py and bench/weak_signal.py."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy import select

from core.lessons import add_lesson, create_series
from core.models import Lesson
from core.sharing import share_for
from tests.helpers.browser import phone_page, serve, wait_until
from tests.helpers.jobs import render
from tests.helpers.signal import SignalGate

# About two and a half minutes of speech with the offline voice: longer than any window.
PARAGRAPH = ("党员要按时参加组织生活，认真学习党的理论，积极完成党组织分配的任务。"
             "年纪大了、行动不便的老党员，由志愿者每周上门送学，一个也不落下。")
LESSON_TEXT = "\n".join([PARAGRAPH] * 14)

WATCH = """() => {
  const audio = document.getElementById('audio');
  const bar = window.__bar = {tapped: performance.now(), first: null, stalls: [], light: null};
  audio.addEventListener('playing', () => { if (bar.first === null) bar.first = performance.now(); });
  audio.addEventListener('waiting', () => {
    if (bar.first !== null && !audio.seeking) bar.stalls.push((performance.now() - bar.first) / 1000);
  });
}"""
READ = """() => {
  const audio = document.getElementById('audio'), bar = window.__bar;
  return {heard: audio.currentTime, first: bar.first === null ? null : (bar.first - bar.tapped) / 1000,
          stalls: bar.stalls, light: (audio.currentSrc || audio.src).endsWith('.light.mp3'),
          kbps: Number(audio.dataset.kbps)};
}"""


@dataclass(frozen=True)
class FirstPlay:
    kbps: float
    latency: float
    window: float
    heard: float  # seconds of audio played when the window closed
    first_sound: float  # seconds from the tap to the first sound
    stalls: list[float]  # seconds after the first sound at which the buffer ran dry
    light: bool  # the page ended on the light file
    chosen_kbps: float  # the bitrate of the file it ended on

    @property
    def limit(self) -> float:
        """What the link allows: no sound before the first, and no more audio than the link
        could carry in the window at the chosen bitrate."""
        return max(0.0, min(self.window - self.first_sound, self.window * self.kbps / self.chosen_kbps - self.first_sound))

    @property
    def share(self) -> float:
        return self.heard / self.limit if self.limit else 0.0


def lesson_app(make) -> tuple[object, str]:
    """An app with one long lesson rendered by the offline voice and its printed code."""
    app = make()
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson_id = add_lesson(session, series, "按时参加组织生活", LESSON_TEXT).id
        session.commit()
    render(app, lesson_id)
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.scalar(select(Lesson).where(Lesson.id == lesson_id))).token
        session.commit()
    return app, token


@contextlib.contextmanager
def through_gate(app):
    """The app behind a real server, reached through a relay the test can cut or slow."""
    with serve(app) as url:
        gate = SignalGate(int(url.rsplit(":", 1)[1]))
        try:
            yield gate
        finally:
            gate.close()


@contextlib.contextmanager
def one_bar(app, kbps: float, latency: float):
    """The app reached through one shared slow link."""
    with through_gate(app) as gate:
        gate.shape(kbps, latency)
        yield gate


def first_play(app, token: str, kbps: float, latency: float, window: float) -> FirstPlay:
    """Open the printed code on a fresh phone, tap 播放 once, listen for `window` seconds."""
    with one_bar(app, kbps, latency) as gate, phone_page() as page:
        page.goto(f"{gate.url}/l/{token}", timeout=120_000)
        wait_until(page, "document.readyState === 'complete'", timeout=60)
        page.evaluate(WATCH)
        page.tap("#play")
        page.wait_for_timeout(window * 1000)
        seen = page.evaluate(READ)
    light = seen["light"]
    return FirstPlay(kbps, latency, window, seen["heard"], seen["first"] if seen["first"] is not None else window,
                     seen["stalls"], light, 32.0 if light else float(seen["kbps"]))

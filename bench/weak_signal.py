"""One bar of signal: audio heard in the first 90 s of a first play, against the link's limit.

Chromium on a phone screen opens a printed code through a relay whose one slow link carries
everything (the page, the audio, the service worker and the heartbeats), taps 播放 once and
listens. For each link it prints the seconds heard, the time to first sound, the file the page
chose, the physical limit — what the link can carry in the window at the chosen bitrate, minus
the time to first sound, never more than the window after the first sound — and the ratio,
with the stalls after the start.

Goal: ≥ 0.9 of the limit at 50 kbit/s with 1 s latency and at 100 kbit/s with 600 ms, and no
stall after the first 10 s at 50 kbit/s. Needs Debian's chromium (scripts/test.sh installs it).
Run: .venv/bin/python bench/weak_signal.py [--window 90]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from tests.helpers.one_bar import first_play, lesson_app  # noqa: E402

LINKS = ((50, 1.0), (100, 0.6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=90.0)
    window = parser.parse_args().window
    with tempfile.TemporaryDirectory() as data:
        def make():
            app = create_app({"DATA_DIR": data, "LISTEN_PAGE_CACHE_SECONDS": 0})
            app.extensions["xiangyin.db"].upgrade()
            return app

        app, token = lesson_app(make)
        print(f"first play, {window:.0f} s window, one shared link (page + audio + service worker + beats)")
        print(f"{'link':>16} {'file':>12} {'first sound':>12} {'heard':>8} {'limit':>8} {'ratio':>6}  stalls after start")
        results = []
        for kbps, latency in LINKS:
            played = first_play(app, token, kbps, latency, window)
            results.append(played)
            name = f"light {played.chosen_kbps:.0f}k" if played.light else f"main {played.chosen_kbps:.0f}k"
            stalls = ", ".join(f"{at:.1f} s" for at in played.stalls) or "none"
            print(f"{kbps:>5} kbps {latency * 1000:>4.0f} ms {name:>12} {played.first_sound:>10.1f} s "
                  f"{played.heard:>6.1f} s {played.limit:>6.1f} s {played.share:>6.2f}  {stalls}")
        slow = results[0]
        late = [at for at in slow.stalls if at > 10]
        met = all(r.share >= 0.9 for r in results) and not late
        print(f"goal (≥ 0.9 of the limit at both, no stall after 10 s at 50 kbps): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()

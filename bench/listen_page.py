"""Listen page benchmark: Lighthouse mobile performance (simulated slow 4G, its default) on a
lesson page — time to interactive and bytes transferred — printed beside the floor: a bare
static HTML page with the same audio element, served by the same server.

Goal: the lesson page within 1.2× the floor. Needs Debian's chromium and Lighthouse
(scripts/test.sh installs it under .tools/). Run: .venv/bin/python bench/listen_page.py
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from waitress import create_server  # noqa: E402

from app import create_app, settings_of  # noqa: E402
from core.lessons import add_lesson, create_series  # noqa: E402
from core.models import Rendition  # noqa: E402
from core.rendering import request_render  # noqa: E402
from core.sharing import share_for  # noqa: E402
from core.worker import InProcessRunner  # noqa: E402

LIGHTHOUSE = ROOT / ".tools" / "node_modules" / ".bin" / "lighthouse"
TEXT = "党章是党的根本大法，是全党必须遵循的总规矩。我们一起学习党章，做合格党员。\n" * 20


def floor_page(audio_url: str) -> bytes:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>floor</title></head>'
            f'<body><h1>第1课</h1><audio controls preload="none" src="{audio_url}"></audio></body></html>').encode()


def measure(url: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "report.json"
        subprocess.run(
            [str(LIGHTHOUSE), url, "--only-categories=performance", "--output=json", f"--output-path={report}",
             "--quiet", "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
            env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, check=True, timeout=300,
        )
        audits = json.loads(report.read_text())["audits"]
    return audits["interactive"]["numericValue"], audits["total-byte-weight"]["numericValue"]


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("Lighthouse is missing: run scripts/test.sh once (it installs .tools/)")
    with tempfile.TemporaryDirectory() as data:
        app = create_app({"DATA_DIR": data})
        app.extensions["xiangyin.db"].upgrade()
        with app.extensions["xiangyin.db"].session() as session:
            lesson = add_lesson(session, create_series(session, "冬季学习包", actor="基准测试"), "学习党章", TEXT)
            session.commit()
            request_render(session, lesson, settings_of(app), voice_id="offline-mandarin")
            token = share_for(session, lesson=lesson).token
            session.commit()
        InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()
        with app.extensions["xiangyin.db"].session() as session:
            rendition = session.query(Rendition).one()
            audio_url = f"/l/{token}/a/{rendition.id}/{rendition.file_path.split('/')[-1]}"
        floor = floor_page(audio_url)

        def with_floor(environ, start_response):
            if environ.get("PATH_INFO") == "/floor.html":
                start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                          ("Content-Length", str(len(floor)))])
                return [floor]
            return app(environ, start_response)

        server = create_server(with_floor, host="127.0.0.1", port=0, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}"
        page_tti, page_bytes = measure(f"{base}/l/{token}")
        floor_tti, floor_bytes = measure(f"{base}/floor.html")
        server.close()
    print(f"lesson page: interactive {page_tti / 1000:.2f} s, {page_bytes / 1024:.1f} kB transferred")
    print(f"floor page:  interactive {floor_tti / 1000:.2f} s, {floor_bytes / 1024:.1f} kB transferred")
    ratio = page_tti / floor_tti
    print(f"ratio (time to interactive): {ratio:.2f}×   goal ≤ 1.2×: {'ok' if ratio <= 1.2 else 'MISSED'}")


if __name__ == "__main__":
    main()

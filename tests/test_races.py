"""Confirmations sent twice at once (a double tap, two tabs) import once; imports racing into
one series both land with their own numbers. Threads against a real HTTP server."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.lessons import create_series
from core.models import Lesson, Member
from tests.helpers.browser import serve
from tests.helpers.races import Browser, at_once
from tests.helpers.web import add_user

ROOT = Path(__file__).resolve().parent.parent
PER_BATCH = 30
# What `xiangyin lessons import` does, with a pause between reading the files and importing
# them, so that two processes reach the numbering together.
IMPORTER = """
import sys, time
from pathlib import Path
from app import create_app, settings_of
from core.importer import Limits, inspect_batch
from core.lessons import get_or_create_series, import_scripts
app = create_app()
files = [(Path(name).name, Path(name).read_bytes()) for name in sys.argv[2:]]
scripts = [upload.script for upload in inspect_batch(files, Limits.from_settings(settings_of(app)))]
with app.extensions["xiangyin.db"].session() as session:
    session.connection()
    time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
    series = get_or_create_series(session, "冬季学习", actor="并发测试")
    import_scripts(session, series, scripts, "并发测试")
    session.commit()
"""


def test_four_confirms_of_one_member_import_insert_the_roll_once(app):
    add_user(app, "boss", "admin")
    roll = "姓名,电话\n王秀英,13800000001\n李国华,13800000002\n".encode("gbk")
    with serve(app) as base:
        browser = Browser(base)
        browser.login("boss")
        status, location, _ = browser.open("/members/import", {"csrf_token": browser.token()},
                                           files=[("file", "名册.csv", roll)])
        assert status == 303, status
        form = {"csrf_token": browser.token(), "name": "0", "phone": "1", "confirm": "1"}
        results = at_once([lambda: browser.open(urllib.parse.urlsplit(location).path, form) for _ in range(4)])
    assert all(status < 500 for status, _, _ in results), results
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Member)) == 2


def test_racing_lesson_confirms_and_uploads_never_answer_500(app):
    add_user(app, "boss", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        series_id = create_series(session, "专题", actor=None).id
        session.commit()
    bad = b"\xff\xfe\x00"  # refused: keeps the batch for review
    with serve(app) as base:
        browser = Browser(base)
        browser.login("boss")
        tokens = []
        for n in range(3):
            status, _, page = browser.open(f"/series/{series_id}/upload", {"csrf_token": browser.token()},
                                           files=[("files", f"第{n}课.txt", f"第{n}课 学习\n内容{n}。".encode()),
                                                  ("files", "坏.txt", bad)])
            tokens.append(re.search(rf"/series/{series_id}/upload/([^\"]+)\"", page).group(1))
        form = {"csrf_token": browser.token(), "include-0": "1"}
        calls = [lambda t=t: browser.open(f"/series/{series_id}/upload/{t}", form) for t in tokens for _ in range(2)]
        calls += [lambda n=n: browser.open(f"/series/{series_id}/upload", {"csrf_token": form["csrf_token"]},
                                           files=[("files", f"新{n}.txt", f"新课{n}\n第{n}份不同的内容。".encode())]) for n in range(3)]
        results = at_once(calls)
    assert all(status < 500 for status, _, _ in results), [r[0] for r in results]
    with app.extensions["xiangyin.db"].session() as session:
        numbers = sorted(session.scalars(select(Lesson.number).where(Lesson.series_id == series_id)))
        titles = sorted(session.scalars(select(Lesson.title)))
    assert numbers == list(range(1, 7)), (titles, [(r[0], r[1]) for r in results], "three confirmed once each and three "
                                          "uploads, numbered without gaps")


@pytest.mark.slow
def test_two_processes_importing_into_one_series_number_every_lesson_once(app, data_dir, tmp_path):
    """Two imports into one series from two processes at the same moment (two admins, two
    machines): both land, with distinct numbers, because numbering takes the series row's
    lock first. Without it the two transactions collide on every run."""
    with app.extensions["xiangyin.db"].session() as session:
        create_series(session, "冬季学习", actor=None)
        session.commit()
    batches = []
    for who in ("甲", "乙"):
        folder = tmp_path / who
        folder.mkdir()
        for n in range(PER_BATCH):
            (folder / f"{who}{n}.txt").write_text(f"{who}的第{n}篇\n{who}写的第{n}份内容，各不相同。", "utf-8")
        batches.append(sorted(str(path) for path in folder.iterdir()))
    # make_app put the test's database (and, for PostgreSQL, its secret) in the environment.
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    # Each process reads its files and connects first, then both import at one agreed moment.
    moment = str(time.time() + 4)
    runs = [subprocess.Popen([sys.executable, "-c", IMPORTER, moment, *files], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for files in batches]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with app.extensions["xiangyin.db"].session() as session:
        lessons = session.execute(select(Lesson.number, Lesson.title).order_by(Lesson.number)).all()
    assert [number for number, _ in lessons] == list(range(1, 2 * PER_BATCH + 1)), lessons
    assert sorted(title for _, title in lessons) == sorted(f"{who}的第{n}篇" for who in "甲乙" for n in range(PER_BATCH))

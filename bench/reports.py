"""County-scale reports: a quarter of validated plays, a county's roll and its visits, on
SQLite and on PostgreSQL. Prints each page's time beside its floor — the same GROUP BY
queries run directly by sqlite3 / psql on the same data — and the ratio.

    .venv/bin/python bench/reports.py                 # 1,000,000 plays, 20,000 members, 100,000 visits
    .venv/bin/python bench/reports.py --plays 200000  # quicker
    .venv/bin/python bench/reports.py --db sqlite     # one database only

Goal: every page ≤ 1.5× its floor and under 500 ms (the export is reported, not held to it:
it writes every visit of the quarter into a workbook).
"""
from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from app import create_app, job_runner  # noqa: E402
from core.clock import LOCAL_TZ, FrozenClock  # noqa: E402
from core.lessons import add_lesson, create_series  # noqa: E402
from core.models import (  # noqa: E402
    GroupSession,
    GroupSessionLesson,
    GroupSessionMember,
    Listen,
    ListenSession,
    Member,
    Pairing,
    Rendition,
    ShareToken,
    User,
    Visit,
)
from core.users import create_user  # noqa: E402

QUARTER = (date(2026, 10, 1), date(2026, 12, 31))
START = datetime(2026, 10, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
PASSWORD = "bench-password-2026"
VOLUNTEERS = 100
CHUNK = 20_000


def chunks(rows, size=CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(app, plays: int, members: int, visits: int) -> None:
    """Bulk rows straight into the tables (the product's own writers would take hours)."""
    rng = random.Random(2026)
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        create_user(session, "boss", "admin", display_name="管理员", password=PASSWORD, actor="基准测试")
        hashed = session.scalar(select(User.password_hash).where(User.username == "boss"))
        session.execute(insert(User), [{"username": f"vol{n}", "display_name": f"志愿者{n}", "role": "volunteer",
                                         "password_hash": hashed, "must_change_password": False, "active": True,
                                         "session_version": 0, "created_at": START} for n in range(VOLUNTEERS)])
        volunteer_ids = list(session.scalars(select(User.id).where(User.role == "volunteer").order_by(User.id)))
        renditions = []
        for s in range(4):
            series = create_series(session, f"第{s + 1}季度学习专题{s}", actor="基准测试")
            for n in range(13):
                lesson = add_lesson(session, series, f"第{n + 1}讲 学习要点{s}-{n}", "学习内容。" * 20)
                for voice in ("offline-mandarin", "offline-cantonese"):
                    rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id=voice,
                                          status="done", duration=600.0, file_path="aa/a.mp3", sha256="a" * 64)
                    session.add(rendition)
                    renditions.append(rendition)
        session.flush()
        session.commit()
        rendition_rows = [(r.id, r.lesson_id) for r in renditions]
    with database.engine.begin() as connection:
        for batch in chunks({"name": f"党员{n}", "phone": f"139{n:08d}", "group_name": f"网格{n % 60}",
                             "address": f"幸福里{n % 300}号", "category": "", "preferred_voice": "", "active": True,
                             "created_at": START - timedelta(days=rng.randint(0, 365))} for n in range(members)):
            connection.execute(insert(Member), batch)
        member_ids = list(connection.scalars(select(Member.id).order_by(Member.id)))
        for batch in chunks({"member_id": m, "user_id": volunteer_ids[i % VOLUNTEERS]}
                            for i, m in enumerate(member_ids)):
            connection.execute(insert(Pairing), batch)
        lessons = sorted({lesson for _, lesson in rendition_rows})
        tokens = [{"token": uuid.uuid4().hex[:12], "kind": "lesson", "lesson_id": lesson, "member_id": None,
                   "created_at": START} for lesson in lessons]
        tokens += [{"token": uuid.uuid4().hex[:12], "kind": "lesson", "lesson_id": lessons[i % len(lessons)],
                    "member_id": m, "created_at": START} for i, m in enumerate(member_ids[:2000])]
        connection.execute(insert(ShareToken), tokens)
        token_rows = connection.execute(select(ShareToken.id, ShareToken.member_id)).all()
        sessions = max(1, plays // 10)
        for batch in chunks({"sid": uuid.uuid4().hex[:24], "share_token_id": token_rows[s % len(token_rows)][0],
                             "created_at": START, "user_agent": "bench", "address_key": "", "credited": True}
                            for s in range(sessions)):
            connection.execute(insert(ListenSession), batch)
        session_rows = connection.execute(select(ListenSession.id, ListenSession.share_token_id)
                                          .order_by(ListenSession.id)).all()
        member_of = dict(token_rows)
        seconds = (QUARTER[1] - QUARTER[0]).days * 86400 + 86399

        def listens():
            for n in range(plays):
                session_id, token_id = session_rows[n // 10 % len(session_rows)]
                rendition_id, lesson_id = rendition_rows[(n // 10 * 7 + n % 10) % len(rendition_rows)]
                counted = START + timedelta(seconds=rng.randrange(seconds))
                completed = rng.random() < 0.4
                yield {"session_id": session_id, "rendition_id": rendition_id, "lesson_id": lesson_id,
                       "share_token_id": token_id, "member_id": member_of.get(token_id), "duration": 600.0,
                       "listened": 600.0 if completed else rng.uniform(30, 590), "position": 0.0,
                       "quartile": 4 if completed else rng.randint(0, 3), "beats": 5, "started_at": counted,
                       "started_day": counted.astimezone(LOCAL_TZ).date(),
                       "last_beat_at": counted, "counted_at": counted,
                       "counted_day": counted.astimezone(LOCAL_TZ).date(),
                       "completed_at": counted if completed else None}

        for batch in chunks(listens()):
            connection.execute(insert(Listen), batch)
        for batch in chunks({"client_key": uuid.uuid4().hex, "member_id": member_ids[n % len(member_ids)],
                             "volunteer_id": volunteer_ids[n % len(member_ids) % VOLUNTEERS],
                             "visited_at": START + timedelta(seconds=rng.randrange(seconds)), "delivered": "nothing",
                             "feedback": "身体不错，听了两课", "needs": "", "follow_up": False, "created_at": START}
                            for n in range(visits)):
            connection.execute(insert(Visit), batch)
        # 集中学习: a session a week in each 网格, a dozen members and two lessons each.
        groups = [{"held_at": START + timedelta(days=7 * (n // 60), hours=n % 60 % 10), "place": f"网格{n % 60}活动室",
                   "note": "", "recorded_by_id": volunteer_ids[n % VOLUNTEERS], "created_at": START}
                  for n in range(60 * 13)]
        connection.execute(insert(GroupSession), groups)
        group_ids = list(connection.scalars(select(GroupSession.id).order_by(GroupSession.id)))
        connection.execute(insert(GroupSessionLesson), [{"group_session_id": g, "lesson_id": lessons[(n + k) % len(lessons)]}
                                                        for n, g in enumerate(group_ids) for k in range(2)])
        for batch in chunks({"group_session_id": g, "member_id": member_ids[(n * 12 + k) % len(member_ids)]}
                            for n, g in enumerate(group_ids) for k in range(12)):
            connection.execute(insert(GroupSessionMember), batch)
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


FLOORS = {
    # The dashboard's own queries: the closed days' rollups, the last day of the quarter (still
    # "yesterday" on the bench's clock) from the plays.
    "dashboard": f"""
SELECT day, sum(plays), sum(completions), sum(shares), sum(seconds) FROM listen_days
  WHERE day BETWEEN '{QUARTER[0]}' AND '{QUARTER[1]}' GROUP BY day;
SELECT lesson_id, rendition_id, sum(plays), sum(completions) FROM listen_days
  WHERE day BETWEEN '{QUARTER[0]}' AND '{QUARTER[1]}' GROUP BY lesson_id, rendition_id;
SELECT m.id, m.name, m.group_name, sum(d.plays), sum(d.completions), max(d.last_counted_at)
  FROM listen_day_members d JOIN members m ON m.id = d.member_id
  WHERE d.day BETWEEN '{QUARTER[0]}' AND '{QUARTER[1]}' GROUP BY m.id, m.name, m.group_name;
SELECT counted_day, lesson_id, rendition_id, member_id, count(*) FROM listens
  WHERE counted_day = '{QUARTER[1]}' GROUP BY counted_day, lesson_id, rendition_id, member_id;
SELECT counted, uncredited FROM listen_day_phones WHERE day BETWEEN '{QUARTER[0]}' AND '{QUARTER[1]}';
SELECT DISTINCT session_id FROM listens WHERE counted_day = '{QUARTER[1]}';
SELECT quartile, sum(listens) FROM listen_day_starts
  WHERE day BETWEEN '{QUARTER[0]}' AND '{QUARTER[1]}' GROUP BY quartile;
SELECT quartile, count(*) FROM listens WHERE started_day = '{QUARTER[1]}' GROUP BY quartile;
""",
    "visit overview": f"""
SELECT member_id, max(visited_at) FROM visits GROUP BY member_id;
SELECT volunteer_id, count(*) FROM visits WHERE visited_at >= '{START:%Y-%m-%d %H:%M:%S}' GROUP BY volunteer_id;
SELECT m.id, m.name FROM members m JOIN pairings p ON p.member_id = m.id WHERE m.active;
""",
    # The ledger overview's own work: per member and lesson of the series, the quarter's
    # evidence (plays on personal cards, visits, group sessions), and the roll.
    "ledger overview": f"""
SELECT l.member_id, l.lesson_id, max(1) FROM listens l
  WHERE l.counted_at >= '{START:%Y-%m-%d %H:%M:%S}' AND l.member_id IS NOT NULL
    AND l.lesson_id IN (SELECT id FROM lessons WHERE series_id = 1) GROUP BY l.member_id, l.lesson_id;
SELECT DISTINCT member_id FROM visits WHERE visited_at >= '{START:%Y-%m-%d %H:%M:%S}';
SELECT gm.member_id, gl.lesson_id FROM group_session_members gm
  JOIN group_sessions g ON g.id = gm.group_session_id JOIN group_session_lessons gl ON gl.group_session_id = g.id
  WHERE g.held_at >= '{START:%Y-%m-%d %H:%M:%S}' AND gl.lesson_id IN (SELECT id FROM lessons WHERE series_id = 1);
SELECT m.id, m.name, m.group_name FROM members m WHERE m.active ORDER BY m.group_name, m.name;
""",
    "visits export": f"""
SELECT v.visited_at, m.name, m.group_name, u.display_name, v.feedback FROM visits v
  JOIN members m ON m.id = v.member_id LEFT JOIN users u ON u.id = v.volunteer_id
  WHERE v.visited_at >= '{START:%Y-%m-%d %H:%M:%S}' ORDER BY v.visited_at;
""",
}

PAGES = {
    "dashboard": f"/stats?start={QUARTER[0]}&end={QUARTER[1]}",
    "visit overview": "/visits",
    "visits export": "/visits/export.xlsx?quarter=2026Q4",
    "ledger overview": "/ledger?quarter=2026Q4&series=1",
}


def floor_seconds(url: str, sql: str) -> float:
    if url.startswith("sqlite"):
        command = ["sqlite3", url.split("///", 1)[1]]
    else:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        command = ["psql", "-q", "-h", parsed.query["host"], "-U", parsed.username, "-d", parsed.database]
    runs = []
    for _ in range(3):
        begun = time.perf_counter()
        subprocess.run(command, input=sql.encode(), capture_output=True, check=True)  # bitmaps are bytes
        runs.append(time.perf_counter() - begun)
    return min(runs)


def page_seconds(client, url: str) -> float:
    client.get(url)
    runs = []
    for _ in range(3):
        begun = time.perf_counter()
        response = client.get(url)
        response.get_data()
        runs.append(time.perf_counter() - begun)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(runs)


def run(kind: str, options) -> None:
    folder = Path(tempfile.mkdtemp(prefix="xy-bench-"))
    config = {"DATA_DIR": str(folder)}
    cluster = None
    if kind == "postgresql":
        from tests.helpers.postgres import Cluster, Server

        cluster = Cluster()
        server = Server(cluster.base_url)
        config.update(DATABASE_URL=server.url(server.create()), SECRET_KEY="b" * 64)
    # The day after the quarter: its days are closed and rolled up but the last, as when the
    # county looks back at the quarter it just finished.
    app = create_app(config, clock=FrozenClock(datetime(2027, 1, 1, 10, 0, tzinfo=LOCAL_TZ)))
    try:
        app.extensions["xiangyin.db"].upgrade()
        begun = time.perf_counter()
        generate(app, options.plays, options.members, options.visits)
        print(f"\n{kind}: {options.plays:,} plays, {options.members:,} members, {options.visits:,} visits "
              f"(generated in {time.perf_counter() - begun:.0f} s)")
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        assert client.post("/login", data={"username": "boss", "password": PASSWORD}).status_code == 302
        url = app.extensions["xiangyin.settings"].database_url
        begun = time.perf_counter()
        assert client.get(PAGES["dashboard"]).status_code == 200
        print(f"  first dashboard view, counted from the plays: {time.perf_counter() - begun:.1f} s")
        begun = time.perf_counter()
        job_runner(app).run_until_idle()
        print(f"  the rollups job it queued, building the quarter: {time.perf_counter() - begun:.1f} s")
        for name, page in PAGES.items():
            mine, floor = page_seconds(client, page), floor_seconds(url, FLOORS[name])
            verdict = "ok" if mine <= 0.5 and mine <= 1.5 * floor else "over the goal"
            print(f"  {name:15} {mine * 1000:8.0f} ms   floor {floor * 1000:7.0f} ms   {mine / floor:5.2f}×   {verdict}")
    finally:
        app.extensions["xiangyin.db"].dispose()
        if cluster is not None:
            server.dispose()
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    options = parser.parse_args()
    for kind in ("sqlite", "postgresql") if options.db == "both" else (options.db,):
        run(kind, options)


if __name__ == "__main__":
    main()

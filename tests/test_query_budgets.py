"""A page's query count must not grow with its rows: every list page and export is loaded
with 10 and with 200 rows of everything it lists, and must send the same number of
statements both times (on SQLite and on PostgreSQL)."""
from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

from core.lessons import add_lesson
from core.models import (AuditEntry, Job, Lesson, Listen, ListenSession, Member, Pack, Pairing, Rendition, Series,
                         User, Visit)
from core.sharing import share_for
from tests.helpers.web import Client, add_user

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)


@contextlib.contextmanager
def counted(app):
    """The statements the app's engine executes meanwhile."""
    statements: list[str] = []
    engine = app.extensions["xiangyin.db"].engine

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def seed(app, rows: int) -> dict:
    """`rows` of everything: members each paired with a volunteer, lessons with renditions
    and their jobs, packs, visits naming a pack and lessons, counted plays (some through
    personal cards), audit entries."""
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        volunteer = session.scalar(select(User).where(User.username == "vol"))
        series = Series(title="学习专题")
        session.add(series)
        session.flush()
        lessons = [add_lesson(session, series, f"第{n}课的题目", f"第{n}课的内容。") for n in range(rows)]
        members = [Member(name=f"党员{n}", phone=f"138{n:08d}", group_name=f"网格{n % 7}") for n in range(rows)]
        session.add_all(members)
        session.flush()
        session.add_all(Pairing(member_id=m.id, user_id=volunteer.id) for m in members)
        renditions = []
        for lesson in lessons:
            rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id="offline-mandarin",
                                  status="done", duration=300.0, file_path="aa/a.mp3", sha256="a" * 64,
                                  loudness=-16.0, size=2_400_000, rate=-10, engine="espeak")
            renditions.append(rendition)
        session.add_all(renditions)
        session.flush()
        session.add_all(Job(kind="render", rendition_id=r.id, status="done", payload="{}") for r in renditions)
        packs = [Pack(uuid=str(uuid.uuid4()), title=f"学习包{n}", voice_id="offline-mandarin", member_id=m.id,
                      created_by_id=volunteer.id, target="zip", lesson_count=1, total_duration=300.0,
                      total_size=1000, manifest="{}") for n, m in enumerate(members)]
        session.add_all(packs)
        session.flush()
        for n, (member, pack) in enumerate(zip(members, packs)):
            visit = Visit(client_key=str(uuid.uuid4()), member_id=member.id, volunteer_id=volunteer.id,
                          visited_at=NOW - timedelta(hours=n), delivered="pack", pack_id=pack.id, feedback="好")
            visit.lessons = [lessons[n]]
            session.add(visit)
        for n, (member, rendition) in enumerate(zip(members, renditions)):
            share = share_for(session, lesson=rendition.lesson, member=member if n % 2 else None)
            listen_session = ListenSession(sid=uuid.uuid4().hex, share_token_id=share.id, created_at=NOW)
            session.add(listen_session)
            session.flush()
            session.add(Listen(session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
                               share_token_id=share.id, member_id=share.member_id, duration=300.0, listened=200.0,
                               quartile=2, started_at=NOW, last_beat_at=NOW, counted_at=NOW + timedelta(minutes=n)))
        session.add_all(AuditEntry(user_name="管理员", action="update", entity="member", entity_id=m.id,
                                   summary="修改党员", details=json.dumps({})) for m in members)
        series_token = share_for(session, series=series).token
        session.commit()
        return {"series": series.id, "lesson": lessons[-1].id, "member": members[-1].id,
                "series_token": series_token, "pack": packs[-1].uuid}


PAGES = [
    ("admin", "/"),
    ("admin", "/series/{series}"),
    ("admin", "/lessons/{lesson}"),
    ("admin", "/members/"),
    ("admin", "/members/?all=1"),
    ("admin", "/members/{member}"),
    ("admin", "/members/export.xlsx"),
    ("admin", "/members/export.csv"),
    ("admin", "/visits"),
    ("admin", "/visits/export.xlsx?quarter=2026Q4"),
    ("admin", "/audit"),
    ("admin", "/packs/"),
    ("admin", "/packs/new"),
    ("admin", "/series/{series}/qr"),
    ("admin", "/stats?start=2026-11-01&end=2026-11-30"),
    ("admin", "/stats/plays.xlsx?start=2026-11-01&end=2026-11-30"),
    ("admin", "/stats/plays.csv?start=2026-11-01&end=2026-11-30"),
    ("admin", "/users/"),
    ("volunteer", "/members/"),
    ("volunteer", "/visits"),
    ("volunteer", "/packs/"),
    ("anonymous", "/s/{series_token}"),
]


def budget(make_app, folder, rows: int) -> dict[str, int]:
    app = make_app(DATA_DIR=str(folder / f"rows-{rows}"))
    add_user(app, "boss", "admin")
    add_user(app, "vol", "volunteer")
    ids = seed(app, rows)
    clients = {"anonymous": Client(app.test_client())}
    for role, name in (("admin", "boss"), ("volunteer", "vol")):
        clients[role] = Client(app.test_client())
        assert clients[role].login(name).status_code == 302
    counts = {}
    for role, page in PAGES:
        url = page.format(**ids)
        clients[role].get(url)  # warm: first-request work (lexicon cache, templates) is not what is measured
        with counted(app) as statements:
            response = clients[role].get(url)
            body = response.get_data()
        assert response.status_code == 200, (url, response.status_code)
        assert body, url
        counts[f"{role} {page}"] = len(statements)
    return counts


def test_list_pages_and_exports_cost_the_same_queries_for_10_and_200_rows(make_app, tmp_path):
    small, large = budget(make_app, tmp_path, 10), budget(make_app, tmp_path, 200)
    grew = {page: (small[page], large[page]) for page in small if large[page] > small[page]}
    assert not grew, f"queries that grow with the rows (10 rows, 200 rows): {grew}"

"""The dashboard counts only validated plays, on Beijing calendar days, and exports the same
numbers to CSV and XLSX."""
from __future__ import annotations

import csv
import gc
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from core.lessons import add_lesson, create_series
from core.listening import Rules
from core.models import Member, Rendition
from core.plays import record_beat
from core.sharing import share_for
from tests.helpers.jobs import run_jobs
from tests.helpers.web import page_text

RULES = Rules()
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def listen(db, sid, share, rendition, seconds, start):
    """Play `seconds` of the track honestly, one 10-second heartbeat at a time."""
    record_beat(db, sid, share.token, rendition.id, "play", 0, 0, RULES, now=start)
    now, done = start, 0.0
    while done < seconds:
        step = min(10.0, seconds - done)
        now += timedelta(seconds=step)
        done += step
        record_beat(db, sid, share.token, rendition.id, "beat", step, done, RULES, now=now)


@pytest.fixture
def plays(app, db):
    series = create_series(db, "冬季学习包", actor=None)
    other = create_series(db, "防诈骗", actor=None)
    first = add_lesson(db, series, "学习党章", "内容。")
    second = add_lesson(db, series, "按时交纳党费", "内容。")
    scam = add_lesson(db, other, "识别诈骗电话", "内容。")
    member = Member(name="王秀英", group_name="幸福里1号楼")
    db.add(member)

    def rendition(lesson, voice, kind="tts"):
        r = Rendition(lesson=lesson, version=lesson.versions[0], kind=kind, voice_id=voice if kind == "tts" else None,
                      dialect="四川话" if kind == "recording" else "", status="done", duration=300.0,
                      file_path="aa/a.mp3", sha256="a" * 64, approved_at=T0 if kind == "recording" else None)
        db.add(r)
        return r

    mandarin, cantonese = rendition(first, "offline-mandarin"), rendition(first, "offline-cantonese")
    recording = rendition(second, None, "recording")
    scam_audio = rendition(scam, "offline-mandarin")
    db.flush()
    general = share_for(db, lesson=first)
    personal = share_for(db, lesson=first, member=member)
    series_code = share_for(db, series=series)
    other_code = share_for(db, series=other)
    db.commit()
    listen(db, "phone-a", general, mandarin, 300, T0)  # completed
    listen(db, "phone-a", general, mandarin, 0, T0 + timedelta(hours=1))  # replay: same play, not counted again
    listen(db, "phone-b", general, cantonese, 40, T0)  # counted, not completed
    listen(db, "phone-c", general, mandarin, 20, T0)  # under 30 s: not a play
    listen(db, "phone-d", personal, mandarin, 300, T0 + timedelta(days=1))
    listen(db, "phone-d", series_code, recording, 150, T0 + timedelta(days=1, minutes=10))  # one after the other
    # 01:30 on 26 November in Beijing is still 25 November in UTC.
    listen(db, "phone-e", other_code, scam_audio, 60, datetime(2026, 11, 25, 17, 30, tzinfo=UTC))
    return {"series": series.id, "other": other.id}


def test_dashboard_numbers_and_charts(admin, plays):
    page = admin.get("/stats?start=2026-11-20&end=2026-11-26")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = page_text(page)
    kpis = dict((label, value) for value, label in re.findall(r"<strong>([^<]+)</strong><span>([^<]+)</span>", html))
    assert kpis["收听次数"] == "5" and kpis["听完次数"] == "2" and kpis["收听的手机（去重）"] == "4"
    # shares: 1, 40/300, 1, 150/300, 60/300 → 0.567
    assert kpis["平均听了全课的"] == "57%"
    assert "<svg" in html and "11-20 收听 2" in html and "11-21 收听 2" in html and "11-26 收听 1" in html
    assert "11-25 收听 0" in html, "the 01:30 Beijing play is on the 26th"
    assert "普通话 · 离线合成" in html and "粤语 · 离线合成" in html and "四川话真人录音" in html
    assert "王秀英（幸福里1号楼） 2 1" in text, "her personal card, then the series code on the same phone"
    # quarters reached: 300/300 twice, 150/300, then 40, 20 and 60 of 300
    funnel = re.search(r"听到哪里.*?<tbody><tr>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r"<td>(\d+)</td>", funnel) == ["6", "3", "3", "2", "2"]


def test_filters_by_series_and_days(admin, plays):
    text = page_text(admin.get(f"/stats?start=2026-11-20&end=2026-11-26&series={plays['other']}"))
    assert "1 收听次数" in text and "识别诈骗电话" in text and "学习党章" not in text
    assert admin.get("/stats?start=2026-11-30&end=2026-11-01").status_code == 400
    assert admin.get("/stats?start=bad&end=2026-11-01").status_code == 400
    assert admin.get("/stats?days=7").status_code == 200


def test_exports_match_the_dashboard(admin, plays):
    query = "start=2026-11-20&end=2026-11-26"
    response = admin.get(f"/stats/plays.csv?{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][:3] == ["时间", "专题", "课程"] and len(rows) == 6
    assert ["2026-11-26 01:30", "防诈骗", "第1课 识别诈骗电话", "普通话 · 离线合成", "", "", "60", "300", "否"] in rows
    workbook = load_workbook(io.BytesIO(admin.get(f"/stats/plays.xlsx?{query}").data))
    assert workbook.sheetnames == ["概况", "每次收听", "按课程", "按专题", "按声音", "按日期", "个人卡", "听后一问"]
    overview = {row[0]: row[1] for row in workbook["概况"].iter_rows(values_only=True)}
    assert overview["收听次数"] == 5 and overview["听完次数"] == 2 and overview["收听的手机（去重）"] == 4
    assert workbook["每次收听"].max_row == 6
    assert list(workbook["个人卡"].iter_rows(values_only=True))[1][:3] == ("王秀英（幸福里1号楼）", 2, 1)
    days = {row[0]: row[1] for row in workbook["按日期"].iter_rows(min_row=2, values_only=True)}
    assert days["2026-11-26"] == 1 and days["2026-11-25"] == 0


def test_a_streamed_export_gives_its_database_connection_back(admin, app, plays):
    """Read to the end, or stopped after the first rows (a phone that gives up), the CSV
    export's connection is back in the pool at once, not when the garbage collector (held
    off here) happens to find it."""
    pool = app.extensions["xiangyin.db"].engine.pool
    url = "/stats/plays.csv?start=2026-11-20&end=2026-11-26"
    gc.disable()
    try:
        assert admin.get(url).get_data(as_text=True).count("\n") == 6
        assert pool.checkedout() == 0
        stopped = admin.get(url, buffered=False)
        assert next(iter(stopped.response))
        stopped.close()
        assert pool.checkedout() == 0
    finally:
        gc.enable()


def test_volunteers_cannot_see_statistics(volunteer):
    assert volunteer.get("/stats").status_code == 403
    assert volunteer.get("/stats/plays.xlsx").status_code == 403


def test_lessons_are_named_with_their_series(admin, plays):
    html = admin.get("/stats?start=2026-11-20&end=2026-11-26").get_data(as_text=True)
    assert '<title>防诈骗 · 第1课 识别诈骗电话</title>' in html
    assert re.search(r'class="note"[^>]*>冬季学习包</text>', html)
    workbook = load_workbook(io.BytesIO(admin.get("/stats/plays.xlsx?start=2026-11-20&end=2026-11-26").data))
    rows = list(workbook["按课程"].iter_rows(values_only=True))
    assert rows[0] == ("专题", "课程", "收听次数", "听完次数")
    assert ("冬季学习包", "第1课 学习党章", 3, 2) in rows


def _numbers(summary) -> dict:
    return {name: getattr(summary, name) for name in (
        "plays", "completions", "sessions", "average_share", "minutes", "by_day", "by_lesson", "by_series",
        "by_voice", "by_member", "funnel", "uncredited")}


def _code_and_audio(db, voice):
    from core.models import ShareToken

    audio = db.scalars(select(Rendition).where(Rendition.voice_id == voice)).first()
    code = db.scalars(select(ShareToken).where(ShareToken.lesson_id == audio.lesson_id,
                                               ShareToken.member_id.is_(None))).one()
    return code, audio


def build_rollups(app, db) -> None:
    """What the dashboard asks for when it counted closed days from the plays."""
    from core.reports.rollups import request_rollups

    request_rollups(db)
    run_jobs(app)
    db.expire_all()


@pytest.mark.parametrize("series", [None, "series", "other"])
def test_closed_days_from_rollups_equal_the_plays(app, db, plays, freeze, series):
    from core.models import ListenDay, ListenDayMember, ListenSession
    from core.reports.listening import Filters, summarise

    # An uncredited phone (kept apart) and a listen that stopped early, on days of their own.
    db.add(ListenSession(sid="phone-u", credited=False))
    db.commit()
    code, mandarin = _code_and_audio(db, "offline-mandarin")
    listen(db, "phone-u", code, mandarin, 100, T0 + timedelta(days=2))
    listen(db, "phone-f", code, mandarin, 10, T0 + timedelta(days=3))
    filters = Filters(date(2026, 11, 20), date(2026, 11, 26), plays[series] if series else None)
    freeze(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))  # every day of the range is today or later
    from_plays = _numbers(summarise(db, filters))
    if series != "other":
        assert from_plays["uncredited"] == 1 and from_plays["funnel"][0].plays == (8 if series is None else 7)
    assert db.scalar(select(func.count()).select_from(ListenDay)) == 0
    freeze(datetime(2026, 12, 10, 1, 0, tzinfo=UTC))  # every day closed
    unbuilt = summarise(db, filters)
    assert _numbers(unbuilt) == from_plays and unbuilt.behind
    assert db.scalar(select(func.count()).select_from(ListenDay)) == 0, "the dashboard only reads"
    build_rollups(app, db)
    assert db.scalar(select(func.count()).select_from(ListenDay)) == 5, "(day, lesson, rendition) of the plays"
    assert db.scalar(select(func.count()).select_from(ListenDayMember)) == 1
    built = summarise(db, filters)
    assert _numbers(built) == from_plays and not built.behind, "read again from the rollups"
    freeze(datetime(2026, 11, 22, 1, 0, tzinfo=UTC))  # the 20th closed, the 21st yesterday, the rest ahead
    assert _numbers(summarise(db, filters)) == from_plays


def test_a_lesson_resumed_days_later_moves_its_day_on_the_dashboard(app, db, plays, freeze):
    from core.models import ListenDayMark, Rendition, ShareToken
    from core.reports.listening import Filters, summarise

    filters = Filters(date(2026, 11, 20), date(2026, 11, 26))
    freeze(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    build_rollups(app, db)
    before = summarise(db, filters)
    assert not before.behind
    assert (before.by_day[0].plays, before.by_day[0].completions) == (2, 1)
    cantonese = db.scalars(select(Rendition).where(Rendition.voice_id == "offline-cantonese")).one()
    # phone-b's play of it was counted on the 20th with 40 of 300 seconds heard
    code = db.scalars(select(ShareToken).where(ShareToken.lesson_id == cantonese.lesson_id,
                                               ShareToken.member_id.is_(None))).one()
    listen(db, "phone-b", code, cantonese, 300, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    assert db.get(ListenDayMark, date(2026, 11, 20)).changes > db.get(ListenDayMark, date(2026, 11, 20)).built
    after = summarise(db, filters)
    assert after.behind, "the 20th is read from its plays until the job catches up"
    assert (after.by_day[0].plays, after.by_day[0].completions) == (2, 2), "counted on the 20th, completed now"
    assert after.completions == before.completions + 1 and after.minutes > before.minutes
    build_rollups(app, db)
    assert db.get(ListenDayMark, date(2026, 11, 20)).changes == db.get(ListenDayMark, date(2026, 11, 20)).built
    assert _numbers(summarise(db, filters)) == _numbers(after)


def test_a_listen_resumed_days_later_moves_the_funnel_of_the_day_it_started(app, db, plays, freeze):
    from core.models import ListenDayMark
    from core.reports.listening import Filters, summarise

    filters = Filters(date(2026, 11, 20), date(2026, 11, 26))
    freeze(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    build_rollups(app, db)
    before = summarise(db, filters)
    code, mandarin = _code_and_audio(db, "offline-mandarin")
    # phone-c heard 20 s on the 20th (not a play); it finishes the lesson on 1 December
    listen(db, "phone-c", code, mandarin, 300, datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    mark = db.get(ListenDayMark, date(2026, 11, 20))
    assert mark.changes > mark.built
    after = summarise(db, filters)
    assert after.plays == before.plays, "counted on 1 December, outside the range"
    assert [t.plays for t in after.funnel] == [6, 4, 4, 3, 3] != [t.plays for t in before.funnel]
    build_rollups(app, db)
    assert _numbers(summarise(db, filters)) == _numbers(after)
    freeze(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    assert _numbers(summarise(db, filters)) == _numbers(after)


def test_deleting_a_lesson_takes_its_listens_out_of_the_rolled_up_days(app, db, plays, freeze):
    from core.lessons import delete_lesson
    from core.models import Lesson
    from core.reports.listening import Filters, summarise

    filters = Filters(date(2026, 11, 20), date(2026, 11, 26))
    freeze(datetime(2026, 12, 10, 1, 0, tzinfo=UTC))
    build_rollups(app, db)
    before = summarise(db, filters)
    delete_lesson(db, db.scalars(select(Lesson).where(Lesson.title == "识别诈骗电话")).one())
    db.commit()
    after = summarise(db, filters)
    assert after.behind
    assert (after.plays, after.sessions, after.funnel[0].plays) == (before.plays - 1, before.sessions - 1, 5)
    build_rollups(app, db)
    assert _numbers(summarise(db, filters)) == _numbers(after)
    freeze(datetime(2026, 11, 20, 1, 0, tzinfo=UTC))
    assert _numbers(summarise(db, filters)) == _numbers(after)


def test_the_dashboard_asks_for_the_rollups_it_lacks_and_commits_nothing_else(app, admin, db, plays, freeze):
    from core.models import Job, ListenDay

    freeze(datetime(2026, 12, 10, 1, 0, tzinfo=UTC))
    first = page_text(admin.get("/stats?start=2026-11-20&end=2026-11-26"))
    assert "5 收听次数" in first
    assert page_text(admin.get("/stats?start=2026-11-20&end=2026-11-26")) == first
    jobs = db.scalars(select(Job).where(Job.kind == "rollups")).all()
    assert [job.status for job in jobs] == ["queued"], "asked once, however often the page is opened"
    assert db.scalar(select(func.count()).select_from(ListenDay)) == 0
    run_jobs(app)
    db.expire_all()
    assert db.get(Job, jobs[0].id).status == "done" and db.scalar(select(func.count()).select_from(ListenDay)) == 5
    assert page_text(admin.get("/stats?start=2026-11-20&end=2026-11-26")) == first
    assert db.scalar(select(func.count()).select_from(Job).where(Job.kind == "rollups")) == 1, "nothing left to ask"

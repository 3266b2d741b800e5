"""Door cards and visits through the test client with a frozen clock: the scan is the proof
and its time survives a late submission; volunteers reach only their paired members."""
from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from mutagen.mp3 import MP3
from openpyxl import load_workbook
from sqlalchemy import select

from app import settings_of
from core.models import AuditEntry, DoorCard, Member, Pack, Pairing, User, Visit
from core.reports.visits import overdue_members, quarter_start
from tests.helpers.tools import tone_wav
from tests.helpers.web import PASSWORD, Client, add_user, page_text

T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)  # 09:30 in Beijing


@pytest.fixture
def community(app):
    """Two volunteers; 王秀英 paired with vol1, 李国华 with vol2; a door card for 王秀英."""
    add_user(app, "admin1", "admin")
    add_user(app, "vol1", "volunteer")
    add_user(app, "vol2", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        wang = Member(name="王秀英", group_name="幸福里1号楼", created_at=T0 - timedelta(days=30))
        li = Member(name="李国华", group_name="幸福里1号楼", created_at=T0 - timedelta(days=30))
        session.add_all([wang, li])
        session.flush()
        session.add_all([Pairing(member_id=wang.id, user_id=users["vol1"].id),
                         Pairing(member_id=li.id, user_id=users["vol2"].id)])
        session.commit()
        ids = {"wang": wang.id, "li": li.id}
    admin = Client(app.test_client())
    admin.login("admin1")
    assert admin.post(f"/members/{ids['wang']}/card").status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        ids["token"] = session.scalar(select(DoorCard.token))
    ids["admin"] = admin
    return ids


def login(app, username: str) -> Client:
    client = Client(app.test_client())
    assert client.login(username).status_code == 302
    return client


def form_fields(html: str) -> dict:
    return {"client_key": re.search(r'name="client_key" value="([^"]+)"', html).group(1),
            **({"scan": m.group(1)} if (m := re.search(r'name="scan" value="(\d+)"', html)) else {})}


def test_door_card_scan_is_the_proof_and_keeps_its_time(app, community, freeze):
    clock = freeze(T0)
    phone = Client(app.test_client())
    scanned = phone.get(f"/d/{community['token']}")
    assert scanned.status_code == 302 and "/login" in scanned.headers["Location"]
    assert phone.http.post("/login?next=/d/" + community["token"],
                           data={"username": "vol1", "password": PASSWORD, "csrf_token": phone.token()}
                           ).headers["Location"] == f"/d/{community['token']}"
    phone.logged_in = True
    phone._token = None
    door = phone.get(f"/d/{community['token']}")
    assert door.status_code == 303
    form = phone.get(door.headers["Location"])
    assert "✓ 已扫码签到：2026-11-25 09:30" in page_text(form)
    fields = form_fields(form.get_data(as_text=True))
    clock.advance(hours=3)  # the phone had no signal; the form is sent three hours later
    saved = phone.post(f"/visits/new/{community['wang']}", {**fields, "delivered": "handbook", "duration": "40",
                                                             "feedback": "听得很清楚", "needs": "楼道灯坏了",
                                                             "follow_up": "1"}, headers={"Accept": "application/json"})
    assert saved.status_code == 200 and saved.get_json()["created"] is True
    again = phone.post(f"/visits/new/{community['wang']}", {**fields, "delivered": "handbook"},
                       headers={"Accept": "application/json"})
    assert again.get_json() == {"ok": True, "visit_id": saved.get_json()["visit_id"], "created": False,
                                "message": "这条走访之前已经收到了"}
    with app.extensions["xiangyin.db"].session() as session:
        [visit] = session.scalars(select(Visit)).all()
        assert visit.visited_at == T0 and visit.created_at == T0 + timedelta(hours=3)
        assert not visit.manual and visit.delivered == "handbook" and visit.follow_up and visit.needs == "楼道灯坏了"
    reuse = phone.post(f"/visits/new/{community['wang']}", {"client_key": str(uuid.uuid4()), "scan": fields["scan"],
                                                             "delivered": "nothing"})
    assert reuse.status_code == 409 and "这次扫码已经登记过走访了" in page_text(reuse)
    detail = page_text(phone.get(f"/members/{community['wang']}"))
    assert "2026-11-25 09:30 走访 Vol1 上门（扫码签到）：纸质学习材料" in detail


def test_manual_entry_is_marked_and_times_are_beijing(app, community, freeze):
    freeze(T0)
    phone = login(app, "vol1")
    form = phone.get(f"/visits/new/{community['wang']}")
    assert "这条记录将标为“手动补录”" in page_text(form)
    fields = form_fields(form.get_data(as_text=True))
    future = phone.post(f"/visits/new/{community['wang']}", {**fields, "visited_at": "2026-11-26T09:30",
                                                              "delivered": "nothing"})
    assert future.status_code == 422 and "走访时间不能晚于现在" in page_text(future)
    saved = phone.post(f"/visits/new/{community['wang']}", {**fields, "visited_at": "2026-11-24T20:15",
                                                             "delivered": "nothing"})
    assert saved.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        visit = session.scalar(select(Visit))
        assert visit.manual and visit.visited_at == datetime(2026, 11, 24, 12, 15, tzinfo=UTC)
    overview = page_text(phone.get("/visits"))
    assert "11-24 20:15 Vol1 → 王秀英 手动补录" in overview


def test_reissued_card_revokes_the_old_one(app, community):
    admin = community["admin"]
    assert admin.post(f"/members/{community['wang']}/card").status_code == 303
    phone = login(app, "vol1")
    old = phone.get(f"/d/{community['token']}")
    assert old.status_code == 410 and "这张签到卡已作废" in page_text(old)
    with app.extensions["xiangyin.db"].session() as session:
        new_token = session.scalar(select(DoorCard.token).where(DoorCard.revoked_at.is_(None)))
        assert [e.summary for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "door_card"))] == [
            "为 王秀英 制作上门签到卡", "为 王秀英 补发上门签到卡，旧卡（1号）作废"]
    assert phone.get(f"/d/{new_token}").status_code == 303
    pdf = admin.get(f"/members/{community['wang']}/card.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_volunteer_cannot_reach_another_volunteers_member(app, community):
    other = login(app, "vol2")
    assert other.get(f"/members/{community['wang']}").status_code == 404
    assert other.get(f"/visits/new/{community['wang']}").status_code == 404
    written = other.post(f"/visits/new/{community['wang']}", {"client_key": str(uuid.uuid4()),
                                                              "visited_at": "2026-11-24T09:00", "delivered": "nothing"})
    assert written.status_code == 404
    scanned = other.get(f"/d/{community['token']}")
    assert scanned.status_code == 403 and "不是您的结对对象" in page_text(scanned)
    roll = page_text(other.get("/members/"))
    assert "李国华" in roll and "王秀英" not in roll
    assert other.get(f"/members/{community['li']}").status_code == 200
    assert other.get("/members/9999").status_code == 404
    assert other.get("/audit").status_code == 403
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(Visit)) is None


def test_overdue_on_beijing_days_with_a_frozen_clock(app, db):
    interval = 7
    wang = Member(name="王秀英", created_at=datetime(2026, 11, 1, tzinfo=UTC))
    li = Member(name="李国华", created_at=datetime(2026, 11, 1, tzinfo=UTC))
    zhao = Member(name="赵建国", created_at=datetime(2026, 11, 20, tzinfo=UTC))
    zhou = Member(name="周志强", category="流动", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    db.add_all([wang, li, zhao, zhou])
    db.flush()
    # 16:30 UTC on 17 November is 00:30 on 18 November in Beijing.
    db.add(Visit(client_key="k" * 10, member_id=wang.id, visited_at=datetime(2026, 11, 17, 16, 30, tzinfo=UTC),
                 delivered="nothing"))
    db.commit()
    now = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # 26 November 00:30 in Beijing
    # 李国华 never visited: entered 1 November (Beijing), due 8 November, 18 days late on the 26th.
    # 王秀英 visited on the 18th (Beijing), due the 25th; 赵建国 entered on the 20th, due the 27th.
    # 周志强 works far away: reached by his personal card, never overdue for a home visit.
    overdue = overdue_members(db, [wang, li, zhao, zhou], interval, now=now)
    assert [(o.member.name, o.days_overdue) for o in overdue] == [("李国华", 18), ("王秀英", 1)]
    assert overdue_members(db, [wang], interval, now=datetime(2026, 11, 25, 15, 59, tzinfo=UTC)) == [], \
        "23:59 on the 25th in Beijing: 王秀英 is due today, not yet overdue"
    assert quarter_start(now) == datetime(2026, 9, 30, 16, 0, tzinfo=UTC), "1 October 00:00 Beijing"


def test_overview_lists_overdue_unreached_and_counts(app, community, freeze):
    clock = freeze(T0)
    phone = login(app, "vol1")
    fields = form_fields(phone.get(phone.get(f"/d/{community['token']}").headers["Location"]).get_data(as_text=True))
    assert phone.post(f"/visits/new/{community['wang']}", {**fields, "delivered": "nothing"}).status_code == 303
    clock.advance(days=9)
    admin = community["admin"]
    page = admin.get("/visits")
    text = page_text(page)
    assert re.search(r"超期未走访（2）.*李国华 .*从未走访 32 天 .*王秀英 .*2026-11-25 2 天", text), text
    assert "既没有走访、也没有扫码收听的党员（1） 李国华" in text
    assert re.search(r"Vol1 (0 )*1 ", text), "visits per volunteer per week"
    workbook = load_workbook(io.BytesIO(admin.get("/visits/export.xlsx").data))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:5] == ("走访时间", "党员", "网格", "志愿者", "方式")
    assert rows[1][1:5] == ("王秀英", "幸福里1号楼", "Vol1", "扫码签到")
    assert rows[1][0] == datetime(2026, 11, 25, 9, 30)


@pytest.mark.slow
def test_delivered_pack_voice_note_and_lessons(app, community, freeze):
    freeze(T0)
    with app.extensions["xiangyin.db"].session() as session:
        from core.lessons import add_lesson, create_series

        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "学习党章", "内容。")
        pack = Pack(uuid=str(uuid.uuid4()), title="冬季学习包（王秀英）", voice_id="offline-mandarin",
                    member_id=community["wang"], target="zip", lesson_count=1, total_duration=60.0, total_size=1,
                    manifest="{}")
        other_pack = Pack(uuid=str(uuid.uuid4()), title="别人的包", voice_id="offline-mandarin",
                          member_id=community["li"], target="zip", lesson_count=1, total_duration=60.0, total_size=1,
                          manifest="{}")
        session.add_all([pack, other_pack])
        session.commit()
        ids = {"pack": pack.id, "other": other_pack.id, "lesson": lesson.id}
    phone = login(app, "vol1")
    form = phone.get(phone.get(f"/d/{community['token']}").headers["Location"])
    assert "冬季学习包（王秀英）" in page_text(form) and "别人的包" not in page_text(form)
    html = form.get_data(as_text=True)
    assert re.search(r'name="delivered" value="pack" checked', html), "an undelivered pack is what was brought"
    assert re.search(rf'name="pack" value="{ids["pack"]}" checked', html)
    assert "还没送到" in page_text(form)
    fields = form_fields(html)
    wrong = phone.post(f"/visits/new/{community['wang']}", {**fields, "delivered": "pack", "pack": str(ids["other"]),
                                                             "feedback": "腿疼，出门少", "duration": "25"})
    assert wrong.status_code == 422 and "请选择为这位党员制作的 U 盘学习包" in page_text(wrong)
    refilled = wrong.get_data(as_text=True)
    assert ">腿疼，出门少</textarea>" in refilled and 'value="25"' in refilled, "nothing typed is lost"
    assert f'name="client_key" value="{fields["client_key"]}"' in refilled
    note = tone_wav(1.0)
    saved = phone.post(f"/visits/new/{community['wang']}", {
        **fields, "delivered": "pack", "pack": str(ids["pack"]), "lessons": [str(ids["lesson"])],
        "voice_note": (io.BytesIO(note), "留言.wav")}, content_type="multipart/form-data")
    assert saved.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        visit = session.scalar(select(Visit))
        assert [lesson.title for lesson in visit.lessons] == ["学习党章"]
        assert session.get(Pack, ids["pack"]).delivered_at == T0, "the pack is marked as handed over"
        visit_id = visit.id
    used = phone.get(f"/visits/new/{community['wang']}?scan={fields['scan']}")
    assert used.status_code == 200 and 'id="visit-form"' not in used.get_data(as_text=True)
    assert "这次扫码的走访已经登记过了" in page_text(used), "a used scan says so before any form"
    fresh = phone.get(phone.get(f"/d/{community['token']}").headers["Location"])
    assert not re.search(r'name="delivered" value="pack" checked', fresh.get_data(as_text=True)), \
        "once delivered, the pack is no longer the default"
    kept = phone.get(f"/visits/{visit_id}/voice")
    assert kept.mimetype == "audio/mpeg" and MP3(io.BytesIO(kept.data)).info.length >= 2.0, \
        "the note is kept mastered, as an MP3 every phone plays"
    assert login(app, "vol2").get(f"/visits/{visit_id}/voice").status_code == 404
    timeline = page_text(phone.get(f"/members/{community['wang']}"))
    assert "U 盘学习包《冬季学习包（王秀英）》，一起听了第1课 学习党章" in timeline


def test_audit_log_shows_who_changed_what(app, community):
    admin = community["admin"]
    from core.lessons import add_lesson, create_series
    from core.sharing import share_for

    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "冬季学习包", actor=None), "学习党章", "内容。")
        share = share_for(session, lesson=lesson)
        session.commit()
        share_id = share.id
    assert admin.post(f"/qr/{share_id}/revoke").status_code == 303
    assert admin.post("/users/new", {"username": "vol3", "role": "volunteer", "display_name": "刘洋"}).status_code == 200
    assert admin.post("/lessons/1/delete").status_code in (302, 303)
    log = admin.get("/audit")
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", log.get_data(as_text=True))
    summaries = [summary for _, _, summary in rows]
    assert summaries[:3] == ["删除课程「冬季学习包」第1课 学习党章", "新建账号 vol3（志愿者）", "停用二维码：第1课 学习党章"]
    assert all(who == "Admin1" for _, who, _ in rows[:3]) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows[0][0])


@pytest.mark.slow
def test_door_cards_print_and_scan_back(app, community, tmp_path):
    import subprocess

    from tests.helpers.pdf import decode, rasterise
    from tests.helpers.tools import require_tool

    admin = community["admin"]
    pdf = admin.post("/members/cards.pdf", {})
    assert pdf.status_code == 200
    out = tmp_path / "cards.pdf"
    out.write_bytes(pdf.data)
    with app.extensions["xiangyin.db"].session() as session:
        cards = {c.member.name: c.token for c in session.scalars(select(DoorCard).where(DoorCard.revoked_at.is_(None)))}
    assert set(cards) == {"王秀英", "李国华"}, "a card was made for the member who had none"
    assert cards["王秀英"] == community["token"], "printing again reuses the active card"
    pages = rasterise(out, tmp_path)
    assert len(pages) == 2
    found = sorted(url for page in pages for url in decode(page))
    assert found == sorted(f"{settings_of(app).public_url}/d/{token}" for token in cards.values())
    size = subprocess.run([require_tool("pdfinfo"), str(out)], capture_output=True, text=True).stdout
    assert re.search(r"Page size:\s+297\.6\d? x 419\.5\d? pts", size), "A6"
    text = subprocess.run([require_tool("pdftotext"), str(out), "-"], capture_output=True, text=True).stdout
    assert "王秀英 同志" in text and "志愿者上门时请用手机扫码登记" in text
    flat = re.sub(r"\s+", "", text)
    for token in cards.values():
        assert f"{settings_of(app).public_url}/d/{token}" in flat, "the card's link is printed as text too"


def test_home_page_reminds_volunteers_of_overdue_visits(app, community, freeze):
    freeze(T0)
    home = page_text(login(app, "vol1").get("/"))
    assert "您结对的1 位党员超过 7 天没有走访了 ： 王秀英（超期 23 天）" in home
    assert "李国华" not in home, "only the volunteer's own members"
    assert "2 位党员超过 7 天没有走访了" in page_text(community["admin"].get("/"))


def test_quarter_export_names_and_bad_quarters(app, community):
    admin = community["admin"]
    bad = admin.get("/visits/export.xlsx?quarter=2026-4")
    assert bad.status_code == 422 and "季度的写法如 2026Q4" in page_text(bad)
    third = admin.get("/visits/export.xlsx?quarter=2026q3")
    assert third.status_code == 200 and load_workbook(io.BytesIO(third.data)).sheetnames == ["2026年第3季度走访"]

"""学习台账: four members over one quarter — reached by a USB pack on a scanned visit, by their
personal card, by claim only, and not at all — and the ledger says exactly that, line by line."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.access import NotVisible
from core.lessons import add_lesson, create_series
from core.listening import Rules
from core.models import (
    DoorCard,
    DoorScan,
    Lesson,
    Member,
    Pack,
    PackItem,
    Pairing,
    QuestionAnswer,
    Rendition,
    User,
    Visit,
    VisitLesson,
)
from core.plays import record_beat
from core.questions import set_question
from core.reports.ledger import CLAIMED, NOT_REACHED, VERIFIED, Period, build_ledger
from core.sharing import share_for
from tests.helpers.web import add_user

NOV = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def _pack(session, member, lessons, delivered_at=None):
    pack = Pack(uuid=str(uuid.uuid4()), title="冬季学习包", voice_id="offline-mandarin", member_id=member.id,
                target="zip", lesson_count=len(lessons), total_duration=600.0, total_size=1, manifest="{}",
                delivered_at=delivered_at)
    session.add(pack)
    session.flush()
    for position, lesson in enumerate(lessons, start=1):
        session.add(PackItem(pack_id=pack.id, position=position, path=f"{position:03d}.mp3", title=lesson.label,
                             lesson_id=lesson.id, sha256="a" * 64, size=1, duration=300.0))
    return pack


def _visit(session, member, volunteer, at, *, scanned, pack=None, lessons=()):
    scan = None
    if scanned:
        card = DoorCard(member_id=member.id, token=uuid.uuid4().hex, issued_at=at - timedelta(days=30))
        session.add(card)
        session.flush()
        scan = DoorScan(card_id=card.id, member_id=member.id, user_id=volunteer.id, scanned_at=at)
        session.add(scan)
        session.flush()
    visit = Visit(client_key=uuid.uuid4().hex, member_id=member.id, volunteer_id=volunteer.id,
                  scan_id=scan.id if scan else None, visited_at=at, delivered="pack" if pack else "nothing",
                  pack_id=pack.id if pack else None)
    session.add(visit)
    session.flush()
    session.add_all(VisitLesson(visit_id=visit.id, lesson_id=lesson.id) for lesson in lessons)


@pytest.fixture
def quarter(app, db):
    volunteer = add_user(app, "li", "volunteer")
    series = create_series(db, "冬季学习包", actor=None)
    first, second = add_lesson(db, series, "学习党章", "内容。"), add_lesson(db, series, "按时交纳党费", "内容。")
    add_lesson(db, create_series(db, "无人收听的专题", actor=None), "没有人学", "内容。")
    members = {name: Member(name=name, group_name="幸福里") for name in ("王秀英", "张建国", "刘桂兰", "陈大爷")}
    db.add_all(members.values())
    db.flush()
    volunteer = db.merge(volunteer)
    volunteer.display_name = "李敏"
    db.add_all(Pairing(member_id=m.id, user_id=volunteer.id) for m in members.values() if m.name != "陈大爷")
    usb = _pack(db, members["王秀英"], [first, second])
    _visit(db, members["王秀英"], volunteer, NOV, scanned=True, pack=usb)
    _visit(db, members["王秀英"], volunteer, datetime(2026, 9, 29, 2, 0, tzinfo=UTC), scanned=True,
           lessons=[first])  # the quarter before
    _visit(db, members["刘桂兰"], volunteer, NOV + timedelta(days=2), scanned=False, lessons=[first])
    _pack(db, members["刘桂兰"], [second], delivered_at=NOV + timedelta(days=3))
    rendition = Rendition(lesson=first, version=first.versions[0], kind="tts", voice_id="offline-mandarin",
                          status="done", duration=300.0, file_path="aa/a.mp3", sha256="a" * 64)
    db.add(rendition)
    db.flush()
    card = share_for(db, lesson=first, member=members["张建国"])
    set_question(db, first, "党章是什么？", ["根本大法", "一本小说"], 0, actor=None)
    db.add_all([QuestionAnswer(lesson_id=first.id, member_id=members["张建国"].id, question="党章是什么？", choice=0,
                               correct=True, created_at=NOV + timedelta(days=8)),
                QuestionAnswer(lesson_id=first.id, member_id=members["王秀英"].id, question="党章是什么？", choice=1,
                               correct=False, created_at=NOV + timedelta(days=1))])
    db.commit()
    start = NOV + timedelta(days=7)
    record_beat(db, "phone-z", card.token, rendition.id, "play", 0, 0, Rules(), now=start)
    for n in range(1, 31):
        record_beat(db, "phone-z", card.token, rendition.id, "beat", 10, 10 * n, Rules(), now=start + timedelta(seconds=10 * n))
    return {"members": {name: m.id for name, m in members.items()}, "volunteer": volunteer.id,
            "series": series.id}


def _marks(ledger) -> list[tuple[str, str, list[str]]]:
    return [(line.lesson, line.mark, [f"{item.way}·{item.mark}" for item in line.evidence]) for line in ledger.lines]


def test_each_member_s_quarter_line_by_line(app, db, quarter):
    admin = db.get(User, add_user(app, "boss", "admin").id)
    q4 = Period(2026, 4)
    ledgers = {name: build_ledger(db, admin, member_id, q4) for name, member_id in quarter["members"].items()}
    assert _marks(ledgers["王秀英"]) == [
        ("第1课 学习党章", VERIFIED, ["上门送 U 盘学习包·已核实"]),
        ("第2课 按时交纳党费", VERIFIED, ["上门送 U 盘学习包·已核实"])], "the September visit is the quarter before"
    assert "扫门卡 2026-11-03 10:00，志愿者 李敏" == ledgers["王秀英"].lines[0].evidence[0].detail
    assert _marks(ledgers["张建国"]) == [
        ("第1课 学习党章", VERIFIED, ["个人卡收听·已核实"]), ("第2课 按时交纳党费", NOT_REACHED, [])]
    assert ledgers["张建国"].lines[0].evidence[0].detail == "听完"
    assert _marks(ledgers["刘桂兰"]) == [
        ("第1课 学习党章", CLAIMED, ["上门一起学习·自报"]), ("第2课 按时交纳党费", CLAIMED, ["学习包已送到·自报"])]
    assert _marks(ledgers["陈大爷"]) == [
        ("第1课 学习党章", NOT_REACHED, []), ("第2课 按时交纳党费", NOT_REACHED, [])]
    assert [ledgers["刘桂兰"].count(mark) for mark in (VERIFIED, CLAIMED, NOT_REACHED)] == [0, 2, 0]
    assert {name: [line.answer for line in ledger.lines] for name, ledger in ledgers.items()} == {
        "王秀英": ["答错", ""], "张建国": ["听懂了", ""], "刘桂兰": ["没答", ""], "陈大爷": ["没答", ""]}
    assert build_ledger(db, admin, quarter["members"]["王秀英"], Period(2026, 3)).lines[0].mark == VERIFIED


def test_a_volunteer_sees_only_the_ledgers_of_paired_members(db, quarter):
    volunteer = db.get(User, quarter["volunteer"])
    assert build_ledger(db, volunteer, quarter["members"]["王秀英"], Period(2026, 4)).lines
    with pytest.raises(NotVisible):
        build_ledger(db, volunteer, quarter["members"]["陈大爷"], Period(2026, 4))



def _pdf_text(data: bytes, tmp_path) -> str:
    import subprocess

    from tests.helpers.tools import require_tool

    path = tmp_path / "ledger.pdf"
    path.write_bytes(data)
    return subprocess.run([require_tool("pdftotext", "/usr/bin/pdftotext"), "-layout", str(path), "-"],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.slow  # pdftotext judges the PDF
def test_the_page_the_pdf_and_the_spreadsheet_say_the_same(app, quarter, tmp_path):
    import io
    import re

    from openpyxl import load_workbook

    from tests.helpers.web import Client, page_text

    add_user(app, "boss", "admin")
    admin = Client(app.test_client())
    admin.login("boss")
    member = quarter["members"]["刘桂兰"]
    page = admin.get(f"/members/{member}/ledger?quarter=2026Q4")
    assert page.status_code == 200
    text = page_text(page)
    assert "2026年第4季度，共 2 课： 已核实 0 课 ， 自报 2 课 ， 未覆盖 0 课" in text
    assert "上门一起学习 · 2026-11-05 10:00 · 补录，未扫门卡，志愿者 李敏" in text

    sheet = load_workbook(io.BytesIO(admin.get(f"/members/{member}/ledger.xlsx?quarter=2026Q4").data))["学习台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("专题", "课程", "情况", "怎么学的", "时间", "凭据", "听后一问")
    assert rows[1:] == [("冬季学习包", "第1课 学习党章", "自报", "上门一起学习", "2026-11-05 10:00", "补录，未扫门卡，志愿者 李敏",
                         "没答"),
                        ("冬季学习包", "第2课 按时交纳党费", "自报", "学习包已送到", "2026-11-06 10:00", "登记送到，未扫门卡",
                         None)]

    answer = admin.get(f"/members/{member}/ledger.pdf?quarter=2026Q4")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    printed = re.sub(r"\s+", " ", _pdf_text(answer.data, tmp_path))
    for words in ("学习台账", "党员：刘桂兰（幸福里）", "2026年第4季度", "第1课 学习党章", "自报", "上门一起学习",
                  "党员或志愿者签字", "第 1 页 / 共 1 页"):
        assert words in printed, words
    wrong = admin.get(f"/members/{member}/ledger?quarter=2026Q9")
    assert wrong.status_code == 422 and "季度的写法如 2026Q4" in page_text(wrong)


def test_ledger_pages_follow_the_pairing_rule(app, quarter):
    from tests.helpers.web import Client

    add_user(app, "other", "volunteer")
    other, paired, anonymous = Client(app.test_client()), Client(app.test_client()), app.test_client()
    other.login("other")
    paired.login("li")
    member = quarter["members"]["王秀英"]
    for suffix in ("", ".pdf", ".xlsx"):
        assert other.get(f"/members/{member}/ledger{suffix}").status_code == 404
        assert "/login" in anonymous.get(f"/members/{member}/ledger{suffix}").headers["Location"]
        assert paired.get(f"/members/{member}/ledger{suffix}").status_code == 200


def test_the_organiser_s_overview_counts_each_member_once_with_the_reason(app, db, quarter):
    import io

    from openpyxl import load_workbook

    from core.reports.ledger import ledger_overview
    from tests.helpers.web import Client, page_text

    admin = db.get(User, add_user(app, "boss", "admin").id)
    overview = ledger_overview(db, admin, Period(2026, 4), quarter["series"])
    assert {row.name: (row.mark, row.verified, row.claimed, row.lessons) for row in overview.rows} == {
        "王秀英": (VERIFIED, 2, 0, 2), "张建国": (VERIFIED, 1, 0, 2), "刘桂兰": (CLAIMED, 0, 2, 2),
        "陈大爷": (NOT_REACHED, 0, 0, 2)}
    assert overview.reasons == {quarter["members"]["陈大爷"]: "本季度没有走访，也没有收听"}
    _pack(db, db.get(Member, quarter["members"]["陈大爷"]), [db.get(Lesson, 1)])
    db.commit()
    again = ledger_overview(db, admin, Period(2026, 4), quarter["series"])
    assert again.reasons == {quarter["members"]["陈大爷"]: "学习包做好了还没送到"}

    client = Client(app.test_client())
    client.login("boss")
    text = page_text(client.get(f"/ledger?quarter=2026Q4&series={quarter['series']}&sort=name"))
    assert "已核实 2 人 ， 自报 1 人 ， 未覆盖 1 人" in text and "学习包做好了还没送到" in text
    sheet = load_workbook(io.BytesIO(client.get(f"/ledger.xlsx?quarter=2026Q4&series={quarter['series']}").data))
    rows = list(sheet["学习台账汇总"].iter_rows(values_only=True))
    assert rows[1] == ("王秀英", "幸福里", "已核实", 2, 0, 2, None) and rows[-1][:3] == ("陈大爷", "幸福里", "未覆盖")

    paired = Client(app.test_client())
    paired.login("li")
    seen = page_text(paired.get(f"/ledger?quarter=2026Q4&series={quarter['series']}"))
    assert "王秀英" in seen and "陈大爷" not in seen, "a volunteer's overview holds their paired members only"


def test_the_overview_costs_the_same_statements_for_4_or_200_more_members(app, db, quarter):
    from sqlalchemy import event

    from core.reports.ledger import ledger_overview

    admin = db.get(User, add_user(app, "boss", "admin").id)

    def statements() -> int:
        db.expire_all()
        seen = []
        engine = db.get_bind()
        listener = lambda *_: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            ledger_overview(db, admin, Period(2026, 4), quarter["series"])
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    few = statements()
    db.add_all(Member(name=f"党员{n}", group_name="新村") for n in range(200))
    db.commit()
    assert statements() == few <= 4

    import re

    from tests.helpers.web import Client

    client = Client(app.test_client())
    client.login("boss")
    pages = [client.get(f"/ledger?quarter=2026Q4&series={quarter['series']}&page={n}").get_data(as_text=True)
             for n in (1, 2)]
    assert "未覆盖 201 人" in pages[0] and "第 1 / 2 页" in pages[0] and "第 2 / 2 页" in pages[1]
    names = [re.findall(r'/ledger\?quarter=2026Q4">([^<]+)</a>', html) for html in pages]
    assert [len(shown) for shown in names] == [200, 4] and len(set(names[0] + names[1])) == 204


@pytest.mark.slow  # pdftotext judges the PDF
def test_a_whole_group_prints_one_member_per_page_and_the_command_line_writes_the_same(app, db, quarter, tmp_path,
                                                                                        freeze):
    import io
    import re

    from openpyxl import load_workbook

    from scripts.cli import cli
    from tests.helpers.web import Client

    add_user(app, "boss", "admin")
    admin = Client(app.test_client())
    admin.login("boss")
    printed = _pdf_text(admin.get("/ledger.pdf?quarter=2026Q4&group=幸福里").data, tmp_path)
    pages = printed.split("\f")
    names = [re.search(r"党员：(\S+)（", page).group(1) for page in pages if "党员：" in page]
    assert names == ["刘桂兰", "张建国", "王秀英", "陈大爷"], "one page each, in roll order"

    freeze(datetime(2027, 1, 15, 2, 0, tzinfo=UTC))  # the last full quarter is 2026Q4
    out = tmp_path / "幸福里.xlsx"
    written = app.test_cli_runner().invoke(cli, ["ledger", "--group", "幸福里", "-o", str(out)])
    assert written.exit_code == 0, written.output
    assert "2026年第4季度" in written.output and "4 位党员" in written.output
    workbook = load_workbook(io.BytesIO(out.read_bytes()))
    assert workbook.sheetnames == ["刘桂兰", "张建国", "王秀英", "陈大爷"]
    assert [row[2] for row in workbook["陈大爷"].iter_rows(min_row=2, values_only=True)] == ["未覆盖", "未覆盖"]
    one = tmp_path / "one.pdf"
    alone = app.test_cli_runner().invoke(cli, ["ledger", "--member", str(quarter["members"]["王秀英"]), "-o", str(one)])
    assert alone.exit_code == 0 and "已核实" in _pdf_text(one.read_bytes(), tmp_path)
    refused = app.test_cli_runner().invoke(cli, ["ledger", "--member", "999999", "-o", str(one)])
    assert refused.exit_code == 1 and "没有这位党员" in refused.output


def _counted_play(db, phone: str, token: str, rendition_id: int, start: datetime) -> None:
    record_beat(db, phone, token, rendition_id, "play", 0, 0, Rules(), now=start)
    for n in range(1, 31):
        record_beat(db, phone, token, rendition_id, "beat", 10, 10 * n, Rules(), now=start + timedelta(seconds=10 * n))


def test_a_general_code_on_the_member_s_own_phone_is_theirs_and_a_shared_phone_names_nobody(app, db, quarter):
    from sqlalchemy import select

    admin = db.get(User, add_user(app, "boss", "admin").id)
    first = db.get(Lesson, db.scalar(select(Lesson.id).where(Lesson.series_id == quarter["series"], Lesson.number == 1)))
    rendition_id = db.scalar(select(Rendition.id).where(Rendition.lesson_id == first.id))
    general = share_for(db, lesson=first).token
    second = db.scalar(select(Lesson).where(Lesson.series_id == quarter["series"], Lesson.number == 2))
    other, slower = (Rendition(lesson=second, version=second.versions[0], kind="tts", voice_id="offline-mandarin",
                               rate=rate, status="done", duration=300.0, file_path=f"bb/{rate}.mp3", sha256="b" * 64)
                     for rate in (0, -20))
    db.add_all([other, slower])
    chen, liu = (db.get(Member, quarter["members"][name]) for name in ("陈大爷", "刘桂兰"))
    own, liu_card = (share_for(db, lesson=second, member=member).token for member in (chen, liu))
    db.commit()
    at = NOV + timedelta(days=20)
    # The personal card opened on another lesson (not heard: no evidence of its own) ...
    record_beat(db, "chen-phone", own, other.id, "play", 0, 0, Rules(), now=at)
    # ... and the lesson code on a poster heard to the end on the same phone.
    _counted_play(db, "chen-phone", general, rendition_id, at + timedelta(hours=1))
    for card, rendition in ((liu_card, other), (own, slower)):
        record_beat(db, "family-phone", card, rendition.id, "play", 0, 0, Rules(), now=at)
    _counted_play(db, "family-phone", general, rendition_id, at + timedelta(hours=2))
    q4 = Period(2026, 4)
    line = build_ledger(db, admin, chen.id, q4).lines[0]
    assert [(item.way, item.mark) for item in line.evidence] == [("通用码收听", VERIFIED)], "one play: his phone's"
    assert line.evidence[0].detail == "听完，用的是本人扫过个人卡的手机"
    assert [item.way for item in build_ledger(db, admin, liu.id, q4).lines[0].evidence] == ["上门一起学习"]


def test_a_group_session_reaches_those_who_came_as_a_claim(app, db, quarter):
    from core.group_sessions import GroupSessionError, record_group_session
    from core.reports.ledger import ledger_overview
    from tests.helpers.web import Client, page_text

    volunteer = db.get(User, quarter["volunteer"])
    second = db.scalar(__import__("sqlalchemy").select(Lesson).where(Lesson.series_id == quarter["series"],
                                                                    Lesson.number == 2))
    members = quarter["members"]
    with pytest.raises(NotVisible):
        record_group_session(db, volunteer, held_at=NOV, place="党群服务中心", note="", lesson_ids=[second.id],
                             member_ids=[members["张建国"], members["陈大爷"]])
    db.rollback()
    with pytest.raises(GroupSessionError, match="请写上学习的地点"):
        record_group_session(db, volunteer, held_at=NOV, place=" ", note="", lesson_ids=[second.id],
                             member_ids=[members["张建国"]])
    db.rollback()
    client = Client(app.test_client())
    client.login("li")
    refused = client.post("/groups", {"held_at": "2026-11-10T09:00", "place": "党群服务中心", "members": [members["张建国"]]})
    assert refused.status_code == 422 and "请选出这次一起听了哪些课" in page_text(refused)
    assert 'value="党群服务中心"' in refused.get_data(as_text=True), "what was typed is kept"
    saved = client.post("/groups", {"held_at": "2026-11-10T09:00", "place": "党群服务中心", "lessons": [second.id],
                                    "members": [members["张建国"], members["王秀英"]]})
    assert saved.status_code == 303
    shown = page_text(client.get(saved.headers["Location"]))
    assert "已登记集中学习：党群服务中心，2 位党员参加" in shown and "陈大爷" not in shown
    admin = db.get(User, add_user(app, "boss", "admin").id)
    line = build_ledger(db, admin, members["张建国"], Period(2026, 4)).lines[1]
    assert [(item.way, item.mark, item.detail) for item in line.evidence] == [
        ("集中学习", CLAIMED, "党群服务中心，签到名单登记，登记人 李敏")]
    overview = ledger_overview(db, admin, Period(2026, 4), quarter["series"])
    assert {row.name: (row.verified, row.claimed) for row in overview.rows}["张建国"] == (1, 1)
    add_user(app, "other", "volunteer")
    other = Client(app.test_client())
    other.login("other")
    assert "党群服务中心" not in page_text(other.get("/groups")), "another volunteer's sessions are not listed"

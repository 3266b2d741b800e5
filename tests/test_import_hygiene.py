"""Import hygiene: the same text twice is caught, an over-long lesson is offered a split at
its headings, and 第十课/第10课 decide the order — through the rules, the web and the CLI."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from core.import_checks import chinese_number, in_stated_order, split_at_headings, stated_number
from core.importer import Script
from core.models import Lesson, Series
from scripts.cli import cli
from tests.helpers.web import Client, add_user, page_text

BODY = "党章是党的根本大法，是全党必须遵循的总规矩。我们一起学习党章，做合格党员。" * 3
# 250 characters a section at 10 characters a minute: 75 minutes in all, 25 a section
LONG = "\n".join(f"# 第{n}部分\n" + f"第{n}部分：按时交纳党费是党员的义务。每月交党费，不拖欠。" * 10 for n in "一二三")


@pytest.mark.parametrize("written, number", [
    ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百零五", 105), ("两百", 200), ("九", 9),
    ("10", 10), ("１２", 12), ("〇", 0), ("三十", 30),
])
def test_chinese_numbers(written, number):
    assert chinese_number(written) == number


def test_stated_numbers_from_heading_title_or_file_name():
    assert stated_number("第十课 总结") == 10
    assert stated_number(None, "第 3 讲：防诈骗") == 3
    assert stated_number("学党章", None, "第二十一课.txt") == 21
    assert stated_number("学党章", "没有编号") is None
    assert stated_number("第四課 交黨費") == 4, "a traditional script states its number too"


def test_numbered_scripts_take_their_order_and_the_others_keep_their_place():
    def script(name, number):
        return Script(name, name, "正文", stated_number=number)

    scripts = [script("序言", None), script("第十课", 10), script("附录", None), script("第九课", 9), script("第十一课", 11)]
    assert [s.filename for s in in_stated_order(scripts)] == ["序言", "第九课", "附录", "第十课", "第十一课"]


def test_a_script_splits_at_its_headings_and_keeps_its_preface():
    parts = split_at_headings(Script("a.md", "学党费", "开场白。\n# 一、为什么\n因为。\n# 二、怎么交\n每月交。", stated_number=4))
    assert [(p.title, p.text, p.stated_number) for p in parts] == [
        ("学党费（一、为什么）", "开场白。\n因为。", 4),
        ("学党费（二、怎么交）", "每月交。", None),
    ]
    single = Script("b.md", "短", "没有小标题。")
    assert split_at_headings(single) == [single]


def _lessons(app, series: str = "党章学习") -> list[tuple[int, str]]:
    with app.extensions["xiangyin.db"].session() as session:
        query = select(Lesson).join(Series).where(Series.title == series).order_by(Lesson.number)
        return [(lesson.number, lesson.title) for lesson in session.scalars(query)]


def _upload(admin, series_id, *files):
    data = {"files": [(io.BytesIO(content.encode()), name) for name, content in files]}
    return admin.post(f"/series/{series_id}/upload", data, content_type="multipart/form-data")


def _review_form(page: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form method="post" action="([^"]+/upload/[^"]+)"', page).group(1)
    checked = dict(re.findall(r'name="(include-\d+)" value="(1)" checked', page))
    return action, checked


@pytest.fixture
def library(make_app):
    app = make_app(CHARS_PER_MINUTE=10)
    add_user(app, "admin1", "admin")
    admin = Client(app.test_client())
    admin.login("admin1")
    series_id = int(admin.post("/series/new", {"title": "党章学习"}).headers["Location"].rsplit("/", 1)[1])
    assert admin.post(f"/series/{series_id}/lessons/new", {"title": "学党章", "text": BODY}).status_code == 303
    return app, admin, series_id


def test_web_a_duplicate_is_held_back_until_the_admin_ticks_it(library):
    app, admin, series_id = library
    edited = BODY.replace("总规矩", "总规矩们", 1)  # one typo fixed
    response = _upload(admin, series_id, ("again.txt", f"学党章（重发）\n{BODY}"),
                       ("edited.txt", f"学党章（改）\n{edited}"), ("new.txt", "新课\n第二课的内容，完全不同。"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and _lessons(app) == [(1, "学党章")], "nothing imported before review"
    text = page_text(response)
    assert "和第1课《学党章》的正文完全相同" in text and re.search(r"和第1课《学党章》几乎相同（\d+% 相同）", text)
    action, checked = _review_form(page)
    assert list(checked) == ["include-2"], "duplicates start unticked, the new lesson ticked"
    admin.post(action, checked)
    assert _lessons(app) == [(1, "学党章"), (2, "新课")]

    response = _upload(admin, series_id, ("again.txt", f"学党章（重发）\n{BODY}"))
    action, checked = _review_form(response.get_data(as_text=True))
    admin.post(action, {"include-0": "1"})
    assert _lessons(app)[-1] == (3, "学党章（重发）"), "ticked: imported on purpose"


def test_web_files_are_ordered_by_their_stated_lesson_number_and_differences_are_reported(library):
    app, admin, series_id = library
    files = [(f"{name}.txt", f"{name} 标题{n}\n内容{n}，各不相同的第{n}份讲稿正文。")
             for name, n in (("第十课", 10), ("第三课", 3), ("第2课", 2))]
    response = _upload(admin, series_id, *files)
    assert response.status_code == 303
    assert _lessons(app) == [(1, "学党章"), (2, "标题2"), (3, "标题3"), (4, "标题10")]
    page = page_text(admin.get(f"/series/{series_id}"))
    assert "「第十课.txt」文件里写的是第10课，导入后是第4课" in page
    assert "第三课.txt" not in page, "a number that matches its place is not reported"


def test_web_a_long_lesson_is_offered_a_split_at_its_headings(library):
    app, admin, series_id = library
    response = _upload(admin, series_id, ("long.md", f"# 党费专题\n\n{LONG}"))
    text = page_text(response)
    assert re.search(r"大约要听 \d+ 分钟，超过 60 分钟；可以按小标题拆成 3 课", text), text
    action, checked = _review_form(response.get_data(as_text=True))
    assert checked == {"include-0": "1"}, "a long lesson is still ticked: splitting is offered, not forced"
    admin.post(action, {"include-0": "1", "split-0": "1"})
    assert _lessons(app) == [(1, "学党章"), (2, "党费专题（第一部分）"), (3, "党费专题（第二部分）"), (4, "党费专题（第三部分）")]


@pytest.fixture
def run(make_app, tmp_path):
    app = make_app(CHARS_PER_MINUTE=10)

    def invoke(*args):
        return app.test_cli_runner().invoke(cli, list(args))

    invoke.app = app
    return invoke


def test_cli_skips_duplicates_unless_forced_orders_by_stated_number_and_splits_on_request(run, tmp_path):
    folder = tmp_path / "讲稿"
    folder.mkdir()
    (folder / "a.txt").write_text(f"第十一课 学党章\n{BODY}", encoding="utf-8")
    (folder / "b.txt").write_text("第九课 交党费\n按时足额交纳党费，各不相同的正文。", encoding="gbk")
    result = run("lessons", "import", str(folder), "--series", "党章学习")
    assert result.exit_code == 0, result.output
    assert _lessons(run.app) == [(1, "交党费"), (2, "学党章")]
    assert "「讲稿/b.txt」文件里写的是第9课，导入后是第1课" in result.output

    result = run("lessons", "import", str(folder / "a.txt"), "--series", "党章学习")
    assert "↷ 跳过「a.txt」：和第2课《学党章》的正文完全相同（确实要导入请加 --force）" in result.output
    assert "已导入 0 个讲稿" in result.output and len(_lessons(run.app)) == 2
    result = run("lessons", "import", str(folder / "a.txt"), "--series", "党章学习", "--force")
    assert "已导入 1 个讲稿" in result.output and len(_lessons(run.app)) == 3

    (tmp_path / "long.md").write_text(f"# 党费专题\n\n{LONG}", encoding="utf-8")
    result = run("lessons", "import", str(tmp_path / "long.md"), "--series", "党费")
    assert "可以按小标题拆成 3 课（加 --split 按小标题拆开）" in result.output
    result = run("lessons", "import", str(tmp_path / "long.md"), "--series", "党费二", "--split")
    assert result.exit_code == 0, result.output
    assert _lessons(run.app, "党费") == [(1, "党费专题")]
    assert _lessons(run.app, "党费二") == [(1, "党费专题（第一部分）"), (2, "党费专题（第二部分）"), (3, "党费专题（第三部分）")]


def test_web_and_cli_estimate_a_lesson_at_the_library_s_measured_pace(make_app, tmp_path):
    """Configured at 1,000 syllables a minute nothing here is long; the library's own audio
    says 30 a minute, and then both doors call the same script long."""
    from core.models import Rendition

    app = make_app(CHARS_PER_MINUTE=1000)
    add_user(app, "admin1", "admin")
    admin = Client(app.test_client())
    admin.login("admin1")
    series_id = int(admin.post("/series/new", {"title": "党章学习"}).headers["Location"].rsplit("/", 1)[1])
    with app.extensions["xiangyin.db"].session() as session:
        series = session.get(Series, series_id)
        from core.lessons import add_lesson, spoken_units

        for n in range(3):
            lesson = add_lesson(session, series, f"已有{n}", f"{BODY}{n}")
            session.add(Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", status="done",
                                  voice_id="offline-mandarin", file_path="aa/a.mp3", sha256="a" * 64,
                                  duration=spoken_units(lesson.text) * 2.0))  # 30 a minute
        session.commit()
    script = f"# 党费专题\n\n{LONG}\n{LONG}\n{LONG}"  # about 75 minutes at 30 a minute
    text = page_text(_upload(admin, series_id, ("long.md", script)))
    assert re.search(r"大约要听 \d+ 分钟，超过 60 分钟", text), "the web's review page"
    (tmp_path / "long.md").write_text(script, encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["lessons", "import", str(tmp_path / "long.md"), "--series", "党章学习"])
    assert re.search(r"大约要听 \d+ 分钟，超过 60 分钟", result.output), result.output

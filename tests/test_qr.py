"""Share tokens and printed sheets, judged by poppler (pdftoppm, pdffonts, pdftotext) and
zbar (zbarimg) the way a phone camera would read the paper."""
from __future__ import annotations

import math
import re
import string
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from audio.qr import GRIDS, MARGIN, QUIET_MODULES, Card, qr_matrix, sheet_pdf
from core.models import Lesson, Member, Series, ShareToken
from core.sharing import new_token, revoke, share_for, share_url
from scripts.cli import cli
from tests.helpers.pdf import DPI, decode, rasterise
from tests.helpers.tools import require_tool
from tests.helpers.web import page_text

pytestmark = pytest.mark.slow  # rasterises PDFs and scans them with zbarimg


MM = DPI / 25.4


def decode_cards(png: Path, layout: str) -> list[str]:
    """Decode each card cell on its own, as a phone held over one card sees it (zbar scanning
    a whole page of blurred codes misses one now and then; one card at a time it does not)."""
    grid = GRIDS[layout]
    image = Image.open(png)
    cell_w = (image.width - 2 * MARGIN * MM) / grid.columns
    cell_h = (image.height - 2 * MARGIN * MM) / grid.rows
    found = []
    for row in range(grid.rows):
        for col in range(grid.columns):
            x, y = MARGIN * MM + col * cell_w, MARGIN * MM + row * cell_h
            crop = png.with_name(f"cell-{row}-{col}-{png.name}")
            image.crop((int(x), int(y), int(x + cell_w), int(y + cell_h))).save(crop)
            found += decode(crop)
    return found


def blurred(png: Path) -> Path:
    target = png.with_name("blur-" + png.name)
    Image.open(png).convert("L").filter(ImageFilter.GaussianBlur(1.2)).save(target)
    return target


def seed(app) -> dict:
    with app.extensions["xiangyin.db"].session() as session:
        from core.lessons import add_lesson, create_series

        series = create_series(session, "2026年冬季党员学习包", actor=None)
        titles = ["学习党章", "按时交纳党费", "守住老百姓的钱袋子：识别冒充公检法诈骗电话的五个办法",
                  "身边的先锋模范", "冬季防跌倒", "管好血压", "重阳节敬老"]
        for title in titles:
            add_lesson(session, series, title, f"{title}。这是课文。")
        session.add_all([Member(name="王秀英"), Member(name="陈桂兰")])
        session.commit()
        return {"series": series.id}


def test_tokens_are_random_short_and_url_safe():
    tokens = {new_token() for _ in range(5000)}
    assert len(tokens) == 5000
    assert all(len(t) == 12 and set(t) <= set(string.ascii_letters + string.digits + "-_") for t in tokens)
    assert not any(t.startswith("-") for t in tokens), "pasted after `qr revoke`, a leading dash is an option"
    assert math.log2(63) + 11 * math.log2(64) >= 64, "12 base64 characters, the first not a dash, carry 71.9 bits"
    share = ShareToken(token=tokens.pop(), kind="lesson")
    assert len(share_url("https://xy.example.cn/", share)) == 36


def test_codes_are_reused_per_target_and_member_until_revoked(app, db):
    seed(app)
    lesson = db.get(Lesson, 1)
    member = db.get(Member, 1)
    first = share_for(db, lesson=lesson)
    assert share_for(db, lesson=lesson) is first
    personal = share_for(db, lesson=lesson, member=member)
    assert personal.token != first.token and personal.member_id == member.id
    series_code = share_for(db, series=db.get(Series, 1))
    assert series_code.kind == "series" and series_code.token not in {first.token, personal.token}
    revoke(db, first)
    db.commit()
    assert share_for(db, lesson=lesson).token not in {first.token, personal.token}


def test_revoked_code_shows_a_friendly_410(app, admin, anonymous):
    seed(app)
    with app.extensions["xiangyin.db"].session() as session:
        share = share_for(session, lesson=session.get(Lesson, 1))
        session.commit()
        token = share.token
    assert anonymous.get(f"/l/{token}").status_code == 200
    listed = admin.get("/series/1/qr")
    assert token in listed.get_data(as_text=True)
    assert admin.post(f"/qr/{share.id}/revoke").status_code == 303
    gone = anonymous.get(f"/l/{token}")
    assert gone.status_code == 410
    text = page_text(gone)
    assert "此二维码已停用" in text and "课程库" not in text, "listeners never see the admin navigation"
    assert anonymous.get("/l/notatoken12").status_code == 404
    assert anonymous.get(f"/s/{token}").status_code == 404, "a lesson code is not a series code"


def qr_boxes(png: Path, grid_name: str) -> list[tuple[int, int, int]]:
    """(left, top, width) in pixels of the code in each card cell, found from the finder
    patterns' top edge: the first row in the cell with a long pure-black run."""
    grid = GRIDS[grid_name]
    pixels = np.asarray(Image.open(png).convert("L"))
    height, width = pixels.shape
    cell_w = (width - 2 * MARGIN * MM) / grid.columns
    cell_h = (height - 2 * MARGIN * MM) / grid.rows
    boxes = []
    for row in range(grid.rows):
        for col in range(grid.columns):
            x0, y0 = int(MARGIN * MM + col * cell_w) + 3, int(MARGIN * MM + row * cell_h) + 3
            cell = pixels[y0:int(y0 + cell_h) - 6, x0:int(x0 + cell_w) - 6] < 40
            for y, line in enumerate(cell):
                xs = np.flatnonzero(line)
                if len(xs) and _longest_run(line) >= 5 * MM:
                    boxes.append((x0 + xs[0], y0 + y, xs[-1] - xs[0] + 1))
                    break
    return boxes


def _longest_run(line: np.ndarray) -> int:
    best = run = 0
    for dark in line:
        run = run + 1 if dark else 0
        best = max(best, run)
    return best


def assert_quiet_zone(png: Path, box: tuple[int, int, int], modules: int) -> None:
    pixels = np.asarray(Image.open(png).convert("L"))
    left, top, size = box
    quiet = int(size / modules * QUIET_MODULES) - 2
    region = pixels[top - quiet: top + size + quiet, left - quiet: left + size + quiet].copy()
    region[quiet: quiet + size, quiet: quiet + size] = 255
    assert region.min() > 200, "text or lines inside the quiet zone"


def test_cli_lesson_cards_decode_to_exactly_the_codes_made(make_app, tmp_path):
    app = make_app(PUBLIC_URL="https://xy.example.cn")
    seed(app)
    out = tmp_path / "cards.pdf"
    result = app.test_cli_runner().invoke(cli, ["qr", "sheet", "--series", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with app.extensions["xiangyin.db"].session() as session:
        expected = [share_url("https://xy.example.cn", share)
                    for share in session.scalars(select(ShareToken).order_by(ShareToken.lesson_id))]
    assert len(expected) == 7 and all(len(url) == 36 for url in expected)
    pages = rasterise(out, tmp_path)
    assert len(pages) == 2, "7 cards, 6 to a page"
    found = [url for page in pages for url in decode_cards(page, "cards")]
    assert sorted(found) == sorted(expected)
    assert sorted(url for page in pages for url in decode_cards(blurred(page), "cards")) == sorted(expected)
    modules = len(qr_matrix(expected[0]))
    boxes = qr_boxes(pages[0], "cards")
    assert len(boxes) == 6
    for box in boxes:
        assert box[2] >= 40 * MM, f"code is {box[2] / MM:.1f} mm wide"
        assert_quiet_zone(pages[0], box, modules)
    fonts = subprocess.run([require_tool("pdffonts"), str(out)], capture_output=True, text=True).stdout
    assert "NotoSansCJKSC" in fonts and " yes yes " in fonts
    text = subprocess.run([require_tool("pdftotext"), str(out), "-"], capture_output=True, text=True).stdout
    assert "第1课 学习党章" in text and "用微信扫一扫，点大按钮收听" in text and "2026年冬季党员学习包" in text
    again = app.test_cli_runner().invoke(cli, ["qr", "sheet", "--series", "1", "-o", str(tmp_path / "again.pdf")])
    assert sorted(re.findall(r"https://\S+", again.output)) == sorted(expected), "printing again reuses the codes"


def test_heading_is_at_least_20_points(tmp_path):
    out = tmp_path / "one.pdf"
    out.write_bytes(sheet_pdf([Card("https://xy.example.cn/l/abcdefghijkl", "第1课 学习党章", "冬季")], "cards"))
    bbox = subprocess.run([require_tool("pdftotext"), "-bbox", str(out), "-"], capture_output=True, text=True).stdout
    heights = [float(m.group(2)) - float(m.group(1))
               for m in re.finditer(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">第1课', bbox)]
    assert heights and heights[0] >= 20 * 0.9, bbox


@pytest.mark.parametrize("layout", ["cards", "series", "poster"])
def test_captions_are_at_least_14_points_black_and_the_instruction_is_the_largest_after_the_title(tmp_path, layout):
    out = tmp_path / "one.pdf"
    card = Card("https://xy.example.cn/l/abcdefghijkl", "第1课 学习党章", "冬季学习包", member="王秀英")
    out.write_bytes(sheet_pdf([card], layout))
    bbox = subprocess.run([require_tool("pdftotext"), "-bbox", str(out), "-"], capture_output=True, text=True).stdout

    def height(word: str) -> float:
        match = re.search(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">' + re.escape(word), bbox)
        assert match, (word, bbox)
        return float(match.group(2)) - float(match.group(1))

    caption, member, title, instruction = (height(w) for w in ("冬季学习包", "王秀英", "第1课", "用微信扫一扫"))
    assert min(caption, member) >= 14 * 0.9, "captions at least 14 pt"
    assert title > instruction > max(caption, member), "the instruction is the largest line after the title"
    colours = set()
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", out.read_bytes(), re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        colours |= {tuple(float(v) for v in c.split()) for c in re.findall(rb"(?<![\d.])([\d.]+ [\d.]+ [\d.]+) rg", content)}
        colours |= {(float(v),) * 3 for v in re.findall(rb"(?<![\d.] )(?<![\d.])([\d.]+) g\b", content)}
    assert colours <= {(0.0, 0.0, 0.0)}, f"every line black (no other fill colour is ever set): {colours}"


@pytest.mark.parametrize("layout,members,cards_per_page", [("poster", [], 1), ("series", [1, 2], 4), ("cards", [1], 6)])
def test_posters_series_and_personal_cards(make_app, tmp_path, layout, members, cards_per_page):
    app = make_app(PUBLIC_URL="https://xy.example.cn")
    seed(app)
    out = tmp_path / f"{layout}.pdf"
    args = ["qr", "sheet", "--series", "1", "--layout", layout, "-o", str(out)]
    for member in members:
        args += ["--member", str(member)]
    result = app.test_cli_runner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with app.extensions["xiangyin.db"].session() as session:
        shares = session.scalars(select(ShareToken)).all()
        expected = {share_url("https://xy.example.cn", s) for s in shares}
        if members:
            assert {s.member.name for s in shares} == {session.get(Member, m).name for m in members}
        assert {s.kind for s in shares} == {"series" if layout == "series" else "lesson"}
    pages = rasterise(out, tmp_path)
    found = [url for page in pages for url in decode_cards(page, layout)]
    assert set(found) == expected
    if layout == "series":
        assert len(found) == 2 and len(pages) == 1, "one personal series card per member"
    text = subprocess.run([require_tool("pdftotext"), str(out), "-"], capture_output=True, text=True).stdout
    for member in members:
        with app.extensions["xiangyin.db"].session() as session:
            assert f"{session.get(Member, member).name} 同志" in text
    boxes = qr_boxes(pages[0], layout)
    assert len(boxes) >= min(cards_per_page, len(found))
    assert min(box[2] for box in boxes) >= 40 * MM


def test_sheet_errors_are_clear(make_app, tmp_path):
    app = make_app()
    seed(app)
    run = lambda *a: app.test_cli_runner().invoke(cli, list(a))  # noqa: E731
    assert "没有编号为 9 的专题" in run("qr", "sheet", "--series", "9", "-o", str(tmp_path / "x.pdf")).output
    assert "没有编号为 9 的党员" in run("qr", "sheet", "--series", "1", "--member", "9", "-o", str(tmp_path / "x.pdf")).output
    with app.extensions["xiangyin.db"].session() as session:
        from core.lessons import create_series

        create_series(session, "空专题", actor=None)
        session.commit()
    empty = run("qr", "sheet", "--series", "2", "-o", str(tmp_path / "x.pdf"))
    assert empty.exit_code == 1 and "这个专题还没有课" in empty.output


def test_cli_list_and_revoke(make_app, tmp_path):
    app = make_app(PUBLIC_URL="https://xy.example.cn")
    seed(app)
    run = lambda *a: app.test_cli_runner().invoke(cli, list(a))  # noqa: E731
    made = run("qr", "sheet", "--series", "1", "--layout", "series", "-o", str(tmp_path / "s.pdf"))
    url = re.search(r"https://\S+", made.output).group(0)
    assert f"{url}\t2026年冬季党员学习包\t-\t有效" in run("qr", "list").output
    assert run("qr", "revoke", url).exit_code == 0
    assert f"{url}\t2026年冬季党员学习包\t-\t已停用" in run("qr", "list", "--series", "1").output
    assert run("qr", "revoke", "nonexistent1").exit_code == 1


def test_web_sheet_download(app, admin, volunteer, tmp_path):
    seed(app)
    page = admin.get("/series/1/qr")
    assert page.status_code == 200 and "打印二维码" in page_text(page)
    pdf = admin.post("/series/1/qr.pdf", {"layout": "cards", "members": ["2"]})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "attachment" in pdf.headers["Content-Disposition"]
    out = tmp_path / "web.pdf"
    out.write_bytes(pdf.data)
    text = subprocess.run([require_tool("pdftotext"), str(out), "-"], capture_output=True, text=True).stdout
    assert text.count("陈桂兰 同志") == 7
    assert admin.post("/series/1/qr.pdf", {"layout": "bogus"}).status_code == 400
    assert volunteer.post("/series/1/qr.pdf", {"layout": "cards"}).status_code == 200, "volunteers print cards too"
    assert volunteer.post("/qr/1/revoke").status_code == 403, "only admins retire codes"


def test_member_page_links_to_preselected_personal_cards(app, admin):
    seed(app)
    detail = admin.get("/members/2")
    assert "/series/1/qr?member=2" in detail.get_data(as_text=True)
    page = admin.get("/series/1/qr?member=2").get_data(as_text=True)
    assert re.search(r'name="members" value="2" checked', page) and not re.search(r'value="1" checked', page)

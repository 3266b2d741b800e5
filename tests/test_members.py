"""The member roll: GBK CSV and XLSX imports with bad rows reported exactly, all or nothing;
editing, pairing and export that imports back unchanged."""
from __future__ import annotations

import io
import re

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from core.members import guess_mapping, read_table
from core.models import AuditEntry, Member, Pairing
from tests.helpers.web import add_user, page_text

GBK_CSV = """姓名,所在网格,家庭住址,联系电话,出生年月,人员类别,方言,备注
王秀英,幸福里1号楼,幸福路88号1栋2单元301,139 0000 0011,1941年,年老体弱,四川话,腿脚不便
李国华,幸福里1号楼,幸福路88号1栋1单元102,13900000012,1946-05,年老体弱,普通话,
,幸福里2号楼,幸福路88号2栋,13900000019,1950,在家,,
陈桂兰,幸福里3号楼,幸福路88号3栋2单元502,139000001,1938,年老体弱,四川话,
赵建国,幸福里5号楼,幸福路90号5栋1单元201,13900000014,19520,在家,普通话,
王秀英,幸福里1号楼,幸福路88号1栋2单元301,13900000011,1941,年老体弱,四川话,
周志强,流动党员,广东省东莞市,13900000015,1985,外出,普通话,
"""


def upload(admin, name: str, data: bytes):
    return admin.post("/members/import", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def errors_of(response) -> list[str]:
    html = response.get_data(as_text=True)
    block = re.search(r'id="row-errors">(.*?)</section>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def member_count(app) -> int:
    with app.extensions["xiangyin.db"].session() as session:
        return session.scalar(select(func.count()).select_from(Member))


def test_gbk_csv_import_reports_every_bad_row_and_imports_nothing(admin, app):
    response = upload(admin, "名册.csv", GBK_CSV.encode("gbk"))
    assert response.status_code == 303
    preview = admin.get(response.headers["Location"])
    assert preview.status_code == 422
    assert "（GBK）" in page_text(preview)
    assert errors_of(preview) == [
        "第4行：缺少姓名",
        "第5行：电话“139000001”不对，应为 11 位手机号或带区号的座机号",
        "第6行：出生年份“19520”不对，应为 1900–2026 之间的年份，如 1946",
        "第7行：与第2行重复：王秀英（13900000011）",
        "第8行：类别“外出”不在可选范围内（年老体弱、流动、在家、其他）",
    ]
    assert 'name="confirm"' not in preview.get_data(as_text=True), "no import button while rows are wrong"
    token = response.headers["Location"].rsplit("/", 1)[1]
    forced = admin.post(f"/members/import/{token}", {"name": "0", "confirm": "1"})
    assert forced.status_code == 422 and member_count(app) == 0, "nothing half-imported"


def test_mapping_is_guessed_and_can_be_corrected(admin, app):
    table = read_table("名册.csv", GBK_CSV.encode("gbk"))
    mapping = guess_mapping(table.headers)
    assert [table.headers[mapping[k]] for k in ("name", "group_name", "address", "phone", "birth_year", "category",
                                                "preferred_voice", "notes")] == [
        "姓名", "所在网格", "家庭住址", "联系电话", "出生年月", "人员类别", "方言", "备注"]
    assert mapping["active"] is None
    good = "\n".join(GBK_CSV.splitlines()[:3]) + "\n"
    response = upload(admin, "好名册.csv", good.encode("gbk"))
    token = response.headers["Location"].rsplit("/", 1)[1]
    fields = {"name": "0", "group_name": "1", "address": "2", "phone": "3", "birth_year": "4", "category": "5",
              "preferred_voice": "6", "notes": "7"}
    swapped = admin.post(f"/members/import/{token}", {**fields, "address": "1", "group_name": "1"})
    assert "同一列不能对应两个栏目" in page_text(swapped)
    done = admin.post(f"/members/import/{token}", {**fields, "confirm": "1"})
    assert done.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        members = session.scalars(select(Member).order_by(Member.id)).all()
        assert [(m.name, m.phone, m.birth_year, m.group_name) for m in members] == [
            ("王秀英", "13900000011", 1941, "幸福里1号楼"), ("李国华", "13900000012", 1946, "幸福里1号楼")]
        assert members[0].notes == "腿脚不便" and members[0].preferred_voice == "四川话"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
        assert entry.summary == "从 好名册.csv 导入 2 人" and entry.user_name == "Admin1"
    again = upload(admin, "好名册.csv", good.encode("gbk"))
    assert errors_of(admin.get(again.headers["Location"])) == [
        "第2行：名册中已有 王秀英（13900000011）", "第3行：名册中已有 李国华（13900000012）"]


def xlsx(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_import_with_numbers_dates_and_bad_rows(admin, app):
    from datetime import datetime

    data = xlsx([
        ["序号", "党员姓名", "网格", "手机号码", "出生日期", "类别", "是否在册"],
        [1, "王秀英", "幸福里1号楼", 13900000011, datetime(1941, 3, 5), "年老体弱", "是"],
        [2, "李国华", "幸福里1号楼", "13900000012", 1946, "年老体弱", "否"],
        [None, None, None, None, None, None, None],
        [4, "赵建国", "幸福里5号楼", "13900000014", 1952, "在家", "不知道"],
    ])
    response = upload(admin, "名册.xlsx", data)
    preview = admin.get(response.headers["Location"])
    assert errors_of(preview) == ["第4行：在册一栏“不知道”看不懂，请填“是”或“否”"], "the blank row is skipped"
    assert member_count(app) == 0
    fixed = xlsx([
        ["序号", "党员姓名", "网格", "手机号码", "出生日期", "类别", "是否在册"],
        [1, "王秀英", "幸福里1号楼", 13900000011, datetime(1941, 3, 5), "年老体弱", "是"],
        [2, "李国华", "幸福里1号楼", "13900000012", 1946, "年老体弱", "否"],
    ])
    token = upload(admin, "名册.xlsx", fixed).headers["Location"].rsplit("/", 1)[1]
    preview = admin.get(f"/members/import/{token}")
    assert preview.status_code == 200 and "2 人全部可以导入" in page_text(preview)
    mapping = {f: str(i) for f, i in {"name": 1, "group_name": 2, "phone": 3, "birth_year": 4, "category": 5,
                                      "active": 6}.items()}
    assert admin.post(f"/members/import/{token}", {**mapping, "confirm": "1"}).status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        members = session.scalars(select(Member).order_by(Member.id)).all()
        assert [(m.name, m.phone, m.birth_year, m.active) for m in members] == [
            ("王秀英", "13900000011", 1941, True), ("李国华", "13900000012", 1946, False)]


def test_unreadable_files_get_clear_messages(admin):
    assert "只支持 CSV 或 Excel" in page_text(upload(admin, "名册.docx", b"PK\x03\x04"))
    assert "另存为” .xlsx 或 CSV" in page_text(upload(admin, "名册.xls", b"\xd0\xcf\x11\xe0"))
    assert "Excel 文件无法打开" in page_text(upload(admin, "名册.xlsx", b"not a zip"))
    assert "文件是空的" in page_text(upload(admin, "名册.csv", b""))


def test_edit_pair_export_and_reimport(admin, app, make_app, tmp_path):
    add_user(app, "vol9", "volunteer")
    created = admin.post("/members/new", {"name": "王 秀英", "group_name": "幸福里1号楼", "phone": "139-0000-0011",
                                          "birth_year": "1941", "category": "年老体弱", "active": "是", "volunteers": ["2"]})
    assert created.status_code == 303
    duplicate = admin.post("/members/new", {"name": "王秀英", "phone": "13900000011", "active": "是"})
    assert duplicate.status_code == 422 and "名册中已有 王秀英（13900000011）" in page_text(duplicate)
    bad = admin.post("/members/new", {"name": "李国华", "birth_year": "去年", "active": "是"})
    assert bad.status_code == 422 and "出生年份“去年”不对" in page_text(bad)
    assert admin.post("/members/1/edit", {"name": "王秀英", "phone": "13900000011", "birth_year": "1941",
                                          "category": "年老体弱", "notes": "耳背，说话大声", "active": "是",
                                          "volunteers": ["1", "2"]}).status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Pairing)) == 2
        summaries = [e.summary for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "member").order_by(AuditEntry.id))]
        assert summaries[0] == "新增党员 王秀英" and "Vol9 与 王秀英 结对" in summaries
        assert "修改党员 王秀英：网格/小区/楼栋、备注" in summaries and "Admin1 与 王秀英 结对" in summaries
    exported = admin.get("/members/export.xlsx")
    sheet = load_workbook(io.BytesIO(exported.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:9] == ("姓名", "网格/小区/楼栋", "地址", "电话", "出生年份", "类别", "收听方言", "备注", "在册")
    assert rows[1][0] == "王秀英" and rows[1][7] == "耳背，说话大声" and rows[1][9] == "Admin1、Vol9"
    csv_text = admin.get("/members/export.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeff姓名,") and "王秀英,,,13900000011,1941,年老体弱,,耳背，说话大声,是" in csv_text
    other = make_app(DATA_DIR=str(tmp_path / "other"))
    from tests.helpers.web import Client

    add_user(other, "admin2", "admin")
    client = Client(other.test_client())
    client.login("admin2")
    token = upload(client, "党员名册.xlsx", exported.data).headers["Location"].rsplit("/", 1)[1]
    assert client.post(f"/members/import/{token}", {**{k: str(v) for k, v in guess_mapping(list(rows[0])).items()
                                                       if v is not None}, "confirm": "1"}).status_code == 303
    with other.extensions["xiangyin.db"].session() as session:
        member = session.scalar(select(Member))
        assert (member.name, member.phone, member.birth_year, member.notes) == ("王秀英", "13900000011", 1941, "耳背，说话大声")


def test_volunteers_cannot_manage_the_roll(volunteer):
    assert volunteer.get("/members/new").status_code == 403
    assert volunteer.get("/members/export.xlsx").status_code == 403
    assert volunteer.get("/members/import").status_code == 403
    assert "还没有和您结对的党员" in page_text(volunteer.get("/members/"))


def test_cli_import_export_and_cards(make_app, tmp_path):
    from scripts.cli import cli

    app = make_app()
    run = lambda *args: app.test_cli_runner().invoke(cli, list(args))  # noqa: E731
    bad = tmp_path / "名册.csv"
    bad.write_bytes(GBK_CSV.encode("gbk"))
    result = run("members", "import", str(bad))
    assert result.exit_code == 1
    assert "第4行：缺少姓名" in result.output and "有 5 行有问题，没有导入任何人" in result.output
    assert "电话 ← 联系电话" in result.output
    good = tmp_path / "好名册.csv"
    good.write_bytes(("\n".join(GBK_CSV.splitlines()[:3]) + "\n").encode("gbk"))
    dry = run("members", "import", str(good), "--dry-run")
    assert dry.exit_code == 0 and "检查通过：2 人可以导入" in dry.output and member_count(app) == 0
    assert run("members", "import", str(good)).exit_code == 0 and member_count(app) == 2
    out = tmp_path / "导出.xlsx"
    assert run("members", "export", "-o", str(out)).exit_code == 0
    assert [row[0] for row in load_workbook(out).active.iter_rows(values_only=True)] == ["姓名", "李国华", "王秀英"]
    cards = tmp_path / "卡.pdf"
    made = run("members", "cards", "-o", str(cards))
    assert made.exit_code == 0 and "2 张签到卡" in made.output and cards.read_bytes().startswith(b"%PDF")
    visits = tmp_path / "走访.xlsx"
    exported = run("visits", "export", "--quarter", "2026Q4", "-o", str(visits))
    assert exported.exit_code == 0 and "已导出 0 条走访" in exported.output
    assert load_workbook(visits).sheetnames == ["2026年第4季度走访"]
    assert "季度的写法如 2026Q4" in run("visits", "export", "--quarter", "2026-4", "-o", str(visits)).output

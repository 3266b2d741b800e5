"""The member roll: editing, pairing with volunteers, and import/export of spreadsheets.

Rolls arrive as whatever the community office has: a CSV saved by Excel on Windows (GBK), a
UTF-8 CSV from WPS, an .xlsx with its own column names. The importer guesses which column is
which, shows the guess for correction, reports every bad row by its spreadsheet row number,
and imports all rows or none.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import Actor, audit
from core.db import flush_unique
from core.errors import Invalid
from core.inputs import clean as clean_input
from core.models import Member, Pairing, User
from core.reports.xlsx import restore

CATEGORIES = ("年老体弱", "流动", "在家", "其他")
MAX_ROWS = 5000
MAX_COLUMNS = 60
MAX_BYTES = 5 * 1024 * 1024


class MemberError(Invalid):
    """A problem shown to the admin as is."""


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    synonyms: tuple[str, ...]
    required: bool = False


FIELDS = (
    Field("name", "姓名", ("姓名", "名字", "党员姓名", "党员", "name"), required=True),
    Field("group_name", "网格/小区/楼栋", ("网格/小区/楼栋", "网格", "小区", "楼栋", "所在网格", "支部", "党小组", "小组", "group")),
    Field("address", "地址", ("地址", "住址", "家庭住址", "居住地址", "现住址", "address")),
    Field("phone", "电话", ("电话", "手机", "手机号", "手机号码", "联系电话", "联系方式", "phone")),
    Field("birth_year", "出生年份", ("出生年份", "出生年", "出生年月", "出生日期", "生日", "birth")),
    Field("category", "类别", ("类别", "分类", "人员类别", "类型", "category")),
    Field("preferred_voice", "收听方言", ("收听方言", "方言", "声音", "方言/声音", "voice")),
    Field("notes", "备注", ("备注", "说明", "情况", "notes")),
    Field("active", "在册", ("在册", "状态", "是否在册", "active")),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}


# --- reading spreadsheets ----------------------------------------------------------------

@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    encoding: str = ""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return restore(str(value).strip())


def read_table(filename: str, data: bytes) -> Table:
    """The first sheet (or the CSV) as header + rows of strings; blank rows dropped."""
    if not data:
        raise MemberError("文件是空的")
    if len(data) > MAX_BYTES:
        raise MemberError(f"文件太大（上限 {MAX_BYTES // 1024 // 1024} MB）")
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows, encoding = _read_xlsx(data), "xlsx"
    elif name.endswith((".csv", ".txt")):
        rows, encoding = _read_csv(data)
    elif name.endswith(".xls"):
        raise MemberError("不支持旧版 .xls 文件：请在 Excel 或 WPS 里“另存为” .xlsx 或 CSV 后再上传")
    else:
        raise MemberError("只支持 CSV 或 Excel（.xlsx）文件")
    rows = [row for row in rows if any(cell for cell in row)]
    if not rows:
        raise MemberError("文件里没有内容")
    if len(rows) - 1 > MAX_ROWS:
        raise MemberError(f"一次最多导入 {MAX_ROWS} 人，请分成几个文件")
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    return Table(rows[0], rows[1:], encoding)


def _read_csv(data: bytes) -> tuple[list[list[str]], str]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise MemberError("无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t，")
    except csv.Error:
        dialect = csv.excel
    # newline=None reads the CR-only line ends that old Excel for Mac still writes.
    try:
        rows = [[restore(cell.strip()) for cell in row] for row in csv.reader(io.StringIO(text, newline=None), dialect)]
    except csv.Error as exc:
        too_long = "field larger than field limit" in str(exc)
        raise MemberError("有一个单元格太长（超过 10 万字），请检查文件" if too_long
                          else "CSV 文件格式不对，请在 Excel 或 WPS 里重新“另存为” CSV") from None
    return rows, ("UTF-8" if encoding == "utf-8-sig" else "GBK")


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise MemberError("Excel 文件无法打开，可能已损坏或不是 .xlsx 格式") from exc
    try:
        sheet = next((ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")), None)  # skip chart sheets
        if sheet is None:
            raise MemberError("Excel 文件里没有表格")
        # Bounded: a damaged sheet may claim a million rows and sixteen thousand columns.
        return [[_cell(value) for value in row]
                for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS)]
    except MemberError:
        raise
    except Exception as exc:  # damaged sheets fail inside openpyxl in many ways
        raise MemberError("Excel 文件无法读取，可能已损坏；请在 Excel 或 WPS 里重新保存后再上传") from exc
    finally:
        workbook.close()


def guess_mapping(headers: list[str]) -> dict[str, int | None]:
    """Field → column index, by the column names offices commonly use."""
    normalised = [re.sub(r"\s+", "", header).lower() for header in headers]
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    for f in FIELDS:
        mapping[f.key] = None
        for synonym in f.synonyms:
            hits = [i for i, h in enumerate(normalised) if i not in taken and h == synonym.lower()]
            hits = hits or [i for i, h in enumerate(normalised) if i not in taken and synonym.lower() in h]
            if hits:
                mapping[f.key] = hits[0]
                taken.add(hits[0])
                break
    return mapping


# --- checking rows -------------------------------------------------------------------------

def normalise_phone(raw: str) -> str:
    """Digits of a mobile (11, starting with 1) or a landline with area code; '' if empty."""
    digits = re.sub(r"[\s\-－—()（）]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not digits:
        return ""
    if re.fullmatch(r"1[3-9]\d{9}", digits) or re.fullmatch(r"0\d{9,11}", digits) or re.fullmatch(r"\d{7,8}", digits):
        return digits
    raise MemberError(f"电话“{raw}”不对，应为 11 位手机号或带区号的座机号")


def parse_birth_year(raw: str, today: date | None = None) -> int | None:
    text = (raw or "").strip()
    if not text:
        return None
    match = re.match(r"^(\d{4})(?:\s*年|[-/.]\d{1,2}(?:[-/.]\d{1,2})?|\s*年\s*\d{1,2}\s*月.*)?$", text)
    year = int(match.group(1)) if match else None
    this_year = (today or date.today()).year
    if year is None or not 1900 <= year <= this_year:
        raise MemberError(f"出生年份“{raw}”不对，应为 1900–{this_year} 之间的年份，如 1946")
    return year


def parse_active(raw: str) -> bool:
    text = (raw or "").strip().lower()
    if text in ("", "是", "在册", "1", "true", "yes", "正常"):
        return True
    if text in ("否", "不在册", "0", "false", "no", "已故", "迁出", "停用"):
        return False
    raise MemberError(f"在册一栏“{raw}”看不懂，请填“是”或“否”")


NOTES_LIMIT = 2000


def _limited(text: str, label: str, limit: int) -> str:
    if len(text) > limit:
        raise MemberError(f"“{label}”最多 {limit} 个字")
    return text


def clean(values: dict[str, str], today: date | None = None) -> dict:
    """Typed member fields from form or spreadsheet text; MemberError names the first problem."""
    values = {key: clean_input(value) if isinstance(value, str) else value for key, value in values.items()}
    name = re.sub(r"\s+", "", values.get("name", ""))
    if not name:
        raise MemberError("缺少姓名")
    if len(name) > 64:
        raise MemberError("姓名太长")
    category = values.get("category", "").strip()
    if category and category not in CATEGORIES:
        raise MemberError(f"类别“{category}”不在可选范围内（{'、'.join(CATEGORIES)}）")
    return {
        "name": name,
        "group_name": values.get("group_name", "").strip()[:120],
        "address": values.get("address", "").strip()[:255],
        "phone": normalise_phone(values.get("phone", "")),
        "birth_year": parse_birth_year(values.get("birth_year", ""), today),
        "category": category,
        "preferred_voice": values.get("preferred_voice", "").strip()[:64],
        "notes": _limited(values.get("notes", "").strip(), "备注", NOTES_LIMIT),
        "active": parse_active(values.get("active", "")),
    }


@dataclass
class RowError:
    row: int  # as the spreadsheet numbers it: the header is row 1
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行：{self.message}"


@dataclass
class ImportPlan:
    members: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def plan_import(session: Session, table: Table, mapping: dict[str, int | None], today: date | None = None) -> ImportPlan:
    """Check every row; duplicates by name + phone within the file and against the roll."""
    if mapping.get("name") is None:
        raise MemberError("请指定哪一列是“姓名”")
    used = [index for index in mapping.values() if index is not None]
    if len(used) != len(set(used)):
        raise MemberError("同一列不能对应两个栏目")
    existing = {(m.name, m.phone) for m in session.scalars(select(Member))}
    seen: dict[tuple[str, str], int] = {}
    plan = ImportPlan()
    for offset, row in enumerate(table.rows):
        number = offset + 2
        values = {key: row[index] if index is not None and index < len(row) else "" for key, index in mapping.items()}
        try:
            member = clean(values, today)
        except MemberError as exc:
            plan.errors.append(RowError(number, str(exc)))
            continue
        key = (member["name"], member["phone"])
        who = f"{member['name']}（{member['phone'] or '无电话'}）"
        if key in seen:
            plan.errors.append(RowError(number, f"与第{seen[key]}行重复：{who}"))
            continue
        if key in existing:
            plan.errors.append(RowError(number, f"名册中已有 {who}"))
            continue
        seen[key] = number
        plan.members.append(member)
    return plan


def import_members(session: Session, plan: ImportPlan, user: Actor, source: str) -> list[Member]:
    """All rows or none: refuses a plan with any error."""
    if plan.errors:
        raise MemberError(f"有 {len(plan.errors)} 行有问题，没有导入任何人")
    if not plan.members:
        raise MemberError("没有可导入的人")
    members = [Member(**values) for values in plan.members]
    session.add_all(members)
    flush_unique(session, "名册中已有其中的人（同名同电话），请刷新后重试")
    audit(session, user, "import", "member", None, f"从 {source} 导入 {len(members)} 人",
          ids=[m.id for m in members])
    return members


# --- editing -------------------------------------------------------------------------------

def _duplicate(session: Session, name: str, phone: str, exclude: int | None = None) -> bool:
    query = select(func.count()).select_from(Member).where(Member.name == name, Member.phone == phone)
    if exclude is not None:
        query = query.where(Member.id != exclude)
    return bool(session.scalar(query))


def save_member(session: Session, member: Member | None, values: dict[str, str], user: User | None) -> Member:
    cleaned = clean(values)
    if _duplicate(session, cleaned["name"], cleaned["phone"], member.id if member else None):
        raise MemberError(f"名册中已有 {cleaned['name']}（{cleaned['phone'] or '无电话'}）")
    if member is None:
        member = Member(**cleaned)
        session.add(member)
        flush_unique(session, "名册中已有同名同电话的党员")
        audit(session, user, "create", "member", member.id, f"新增党员 {member.name}", **cleaned)
        return member
    changes = {key: [getattr(member, key), value] for key, value in cleaned.items() if getattr(member, key) != value}
    for key, (_, value) in changes.items():
        setattr(member, key, value)
    if changes:
        flush_unique(session, "名册中已有同名同电话的党员")
        audit(session, user, "update", "member", member.id, f"修改党员 {member.name}：{'、'.join(FIELD_BY_KEY[k].label for k in changes)}",
              **changes)
    return member


def set_volunteers(session: Session, member: Member, volunteer_ids: list[int], user: User | None) -> None:
    """Replace the member's pairings; only active volunteer or admin accounts can be paired."""
    wanted = set(volunteer_ids)
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted), User.active.is_(True)))}
    if set(users) != wanted:
        raise MemberError("所选的志愿者不存在或已停用")
    current = {p.user_id: p for p in session.scalars(select(Pairing).where(Pairing.member_id == member.id))}
    for user_id in wanted - set(current):
        session.add(Pairing(member_id=member.id, user_id=user_id))
        audit(session, user, "pair", "member", member.id, f"{users[user_id].display_name} 与 {member.name} 结对")
    for user_id in set(current) - wanted:
        session.delete(current[user_id])
        volunteer = session.get(User, user_id)
        who = volunteer.display_name if volunteer else f"账号{user_id}"
        audit(session, user, "unpair", "member", member.id, f"{who} 不再与 {member.name} 结对")
    session.flush()
    session.expire(member, ["volunteers"])


# --- export --------------------------------------------------------------------------------

def export_rows(members: list[Member]) -> tuple[list[str], list[list]]:
    """The same columns the importer reads, so an exported roll imports back unchanged."""
    header = [f.label for f in FIELDS] + ["结对志愿者"]
    rows = [[m.name, m.group_name, m.address, m.phone, m.birth_year or "", m.category, m.preferred_voice, m.notes,
             "是" if m.active else "否", "、".join(v.display_name for v in m.volunteers)] for m in members]
    return header, rows


def export_csv(members: list[Member]) -> str:
    from core.reports.xlsx import csv_document

    return csv_document(*export_rows(members))


def export_xlsx(members: list[Member]) -> bytes:
    from core.reports.xlsx import simple_workbook

    header, rows = export_rows(members)
    return simple_workbook("党员名册", header, rows, [10, 16, 28, 14, 10, 10, 10, 24, 6, 16])

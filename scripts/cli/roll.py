"""The member roll, door cards and visits."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from scripts.cli.common import actor, database, fail, settings


@click.group("members")
def members_group() -> None:
    """党员名册：导入、导出、打印上门签到卡。"""


@members_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，不导入")
@with_appcontext
def members_import(path: str, dry_run: bool) -> None:
    """从 Excel（.xlsx）或 CSV（UTF-8/GBK）导入党员；任何一行有问题就一个也不导入。"""
    from core.members import FIELDS, MemberError, guess_mapping, import_members, plan_import, read_table

    try:
        table = read_table(Path(path).name, Path(path).read_bytes())
        mapping = guess_mapping(table.headers)
        for f in FIELDS:
            column = mapping[f.key]
            click.echo(f"  {f.label} ← {table.headers[column] if column is not None else '（无）'}")
        with database().session() as session:
            plan = plan_import(session, table, mapping)
            for error in plan.errors:
                click.echo(str(error), err=True)
            if plan.errors:
                fail(f"有 {len(plan.errors)} 行有问题，没有导入任何人")
            if dry_run:
                click.echo(f"检查通过：{len(plan.members)} 人可以导入（--dry-run，未导入）")
                return
            members = import_members(session, plan, actor(session), Path(path).name)
            session.commit()
    except MemberError as exc:
        fail(str(exc))
    click.echo(f"已导入 {len(members)} 人")


@members_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出文件，.xlsx 或 .csv")
@with_appcontext
def members_export(output: str) -> None:
    """导出党员名册（与导入的列相同）。"""
    from core.members import export_csv, export_xlsx
    from core.models import Member

    with database().session() as session:
        members = list(session.scalars(select(Member).order_by(Member.group_name, Member.name)))
        if output.lower().endswith(".csv"):
            Path(output).write_text(export_csv(members), encoding="utf-8")
        else:
            Path(output).write_bytes(export_xlsx(members))
    click.echo(f"已导出 {len(members)} 人到 {output}")


@members_group.command("cards")
@click.option("--member", "member_ids", multiple=True, type=int, help="党员编号，可重复；不写则全部在册党员")
@click.option("--reissue", is_flag=True, help="补发：旧卡作废，打印新卡")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 PDF 文件")
@with_appcontext
def members_cards(member_ids: tuple[int, ...], reissue: bool, output: str) -> None:
    """打印上门签到卡（A6，每人一张）。"""
    from core.models import Member
    from core.visits import door_cards_for

    with database().session() as session:
        if member_ids:
            members = [session.get(Member, mid) or fail(f"没有编号为 {mid} 的党员") for mid in member_ids]
        else:
            members = list(session.scalars(select(Member).where(Member.active.is_(True)).order_by(Member.group_name, Member.name)))
        if not members:
            fail("没有要打印签到卡的党员")
        Path(output).write_bytes(door_cards_for(session, actor(session), members, settings().public_url,
                                                settings().org_name, reissue=reissue))
        session.commit()
    click.echo(f"已生成 {output}：{len(members)} 张签到卡")


@click.group("visits")
def visits_group() -> None:
    """走访记录。"""


@visits_group.command("export")
@click.option("--quarter", default=None, help="如 2026Q4；默认本季度")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 .xlsx 文件")
@with_appcontext
def visits_export(quarter: str | None, output: str) -> None:
    """导出一个季度的走访记录（Excel），用于季度考核。"""
    from core.models import Visit
    from core.reports.visits import parse_quarter, quarter_bounds, visits_xlsx
    from core.visits import VisitError

    try:
        year, number = parse_quarter(quarter)
    except VisitError as exc:
        fail(str(exc))
    start, end = quarter_bounds(year, number)
    with database().session() as session:
        visits = list(session.scalars(select(Visit).where(Visit.visited_at >= start, Visit.visited_at < end)
                                      .order_by(Visit.visited_at)))
        Path(output).write_bytes(visits_xlsx(visits, f"{year}年第{number}季度走访"))
    click.echo(f"已导出 {len(visits)} 条走访到 {output}")


"""`xiangyin ledger`: the 学习台账 from the command line (core/reports/ledger.py)."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from scripts.cli.common import database, fail, settings


@click.command("ledger")
@click.option("--member", "member_id", type=int, help="一位党员的编号")
@click.option("--group", default=None, help="一个网格（名册里的“网格/小区/楼栋”）")
@click.option("--all", "everyone", is_flag=True, help="全部在册党员")
@click.option("--quarter", default=None, help="季度，如 2026Q4（默认：上一个完整的季度）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="写到这个文件：.pdf（每人一页，可打印签字）或 .xlsx（每人一张表）")
@with_appcontext
def ledger_command(member_id: int | None, group: str | None, everyone: bool, quarter: str | None, output: Path) -> None:
    """写出学习台账（PDF 或 Excel）：一位党员、一个网格或全部党员，一个季度。"""
    from core.db import utcnow
    from core.errors import DomainError
    from core.reports.ledger import Period, build_ledger, build_ledgers
    from core.reports.ledger_pdf import ledger_pdf, ledgers_workbook

    if sum(bool(x) for x in (member_id, group, everyone)) != 1:
        fail("请指定 --member、--group 或 --all 之一")
    if output.suffix not in (".pdf", ".xlsx"):
        fail("输出文件应以 .pdf 或 .xlsx 结尾")
    with database().session() as session:
        try:
            period = Period.parse(quarter) if quarter else Period.last_full(utcnow())
            ledgers = ([build_ledger(session, None, member_id, period)] if member_id
                       else build_ledgers(session, None, period, group))
        except DomainError as exc:
            fail(str(exc))
        if not ledgers:
            fail(f"网格「{group}」里没有在册党员" if group else "名册里没有在册党员")
        data = ledger_pdf(ledgers, settings().org_name) if output.suffix == ".pdf" else ledgers_workbook(ledgers)
    output.write_bytes(data)
    click.echo(f"已写出 {period.label} 的学习台账：{len(ledgers)} 位党员 → {output}")

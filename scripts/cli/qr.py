"""QR sheets and codes."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from scripts.cli.common import actor, database, fail, settings


@click.group("qr")
def qr_group() -> None:
    """打印二维码卡片、海报，管理和停用二维码。"""


@qr_group.command("sheet")
@click.option("--series", "series_id", required=True, type=int, help="专题编号")
@click.option("--layout", default="cards", show_default=True, type=click.Choice(["cards", "poster", "series"]),
              help="cards 课程卡片（每页6张）；poster 海报（每页1张）；series 专题卡（一码听全季）")
@click.option("--member", "member_ids", multiple=True, type=int, help="党员编号：打印带姓名的个人卡，可重复")
@click.option("--lesson", "lesson_ids", multiple=True, type=int, help="只打印这几课（课程编号），可重复")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 PDF 文件")
@with_appcontext
def qr_sheet(series_id: int, layout: str, member_ids: tuple[int, ...], lesson_ids: tuple[int, ...], output: str) -> None:
    """生成可打印的 A4 二维码 PDF。"""
    from audio.qr import sheet_pdf
    from core.models import Lesson, Member, Series
    from core.sharing import ShareError, sheet_cards

    with database().session() as session:
        series = session.get(Series, series_id) or fail(f"没有编号为 {series_id} 的专题")
        members = [session.get(Member, mid) or fail(f"没有编号为 {mid} 的党员") for mid in member_ids]
        lessons = [session.get(Lesson, lid) or fail(f"没有编号为 {lid} 的课") for lid in lesson_ids] or None
        try:
            cards = sheet_cards(session, series, layout, settings().public_url,
                                members=members, lessons=lessons, user=actor(session))
        except ShareError as exc:
            fail(str(exc))
        data = sheet_pdf(cards, layout, title=series.title)
        session.commit()
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        fail(f"无法写入 {output}：{exc.strerror}")
    click.echo(f"已生成 {output}：{len(cards)} 张卡片")
    for url in dict.fromkeys(card.url for card in cards):
        click.echo(f"  {url}")


@qr_group.command("list")
@click.option("--series", "series_id", type=int, default=None, help="只列出这个专题的二维码")
@with_appcontext
def qr_list(series_id: int | None) -> None:
    """列出二维码：链接、指向、个人卡的党员、是否停用。"""
    from core.sharing import list_shares, share_target, share_url

    with database().session() as session:
        for share in list_shares(session, series_id):
            target = share_target(share)
            whom = share.member.name if share.member else "-"
            state = "已停用" if share.revoked_at else "有效"
            click.echo(f"{share_url(settings().public_url, share)}\t{target}\t{whom}\t{state}")


@qr_group.command("revoke")
@click.argument("token")
@with_appcontext
def qr_revoke(token: str) -> None:
    """停用一个二维码（可以给出完整链接或最后一段）。已打印的这个码扫了会显示“此二维码已停用”。"""
    from core.shared import LISTEN_PAGES, generation
    from core.sharing import find_share, revoke

    with database().session() as session:
        share = find_share(session, token.rstrip("/").rsplit("/", 1)[-1])
        if share is None:
            fail("没有这个二维码")
        revoke(session, share, actor(session))
        session.commit()
    # The web processes' copies of its page go at once (through Redis when several share it).
    generation(settings(), LISTEN_PAGES).bump()
    click.echo("已停用")



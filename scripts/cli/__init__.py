"""The `xiangyin` command: everything an admin or volunteer runs from a terminal.

Built on the app factory so the CLI reads the same configuration as the web app; every
command that changes data goes through the same core/ rules as the web pages. One module per
command group, each a thin shell over core/; the table below is the whole command set.
"""
from __future__ import annotations

import click
from flask.cli import ScriptInfo

from app import create_app, settings_of
from core.inputs import clean
from scripts.cli import backup, database, ledger, lessons, packs, qr, render, roll, setup, speech, storage, users
from scripts.cli.common import log_to


class CleanArguments(click.Group):
    """Arguments with control characters removed before any command sees them (core.inputs)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, [clean(arg) for arg in args])


@click.group(cls=CleanArguments, help="乡音：送学上门的学习音频服务。")
@click.option("--as", "as_user", default=None, metavar="用户名", help="以这个账号的名义记入操作记录（默认记为命令行和系统用户名）")
@click.option("--debug", is_flag=True, help="出错时在终端显示完整的技术细节（平时只记入日志文件）")
@click.pass_context
def cli(ctx: click.Context, as_user: str | None, debug: bool) -> None:
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=create_app)
    ctx.meta["xiangyin.as"] = as_user
    config = settings_of(ctx.obj.load_app())
    log_to(config.log_path, config.log_format, debug=debug)


COMMANDS = [
    setup.init_command, setup.demo_command, setup.run_command, render.worker_command,
    users.users_group,
    lessons.lessons_group,
    speech.text_command, speech.voices_command, speech.say_command,
    render.render_command, render.lighten_command,
    packs.pack_group,
    qr.qr_group,
    roll.members_group, roll.visits_group, ledger.ledger_command,
    database.db_group,
    storage.storage_group,
    backup.backup_command, backup.restore_command,
]
for command in COMMANDS:
    cli.add_command(command)

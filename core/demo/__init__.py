"""Demo data: real-looking community lesson scripts, volunteers and members.

The scripts are Markdown files beside this module and go through the same importer as an
admin's uploads, so the demo also shows what an import produces. Loading is idempotent.
"""
from __future__ import annotations

from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.importer import Limits, parse_script
from core.lessons import create_series, import_scripts
from core.models import Member, Pairing, Series
from core.users import create_user, get_user

SERIES = [
    ("2026年冬季党员学习包", "送学上门第四季度内容：学党章、交党费、身边的先锋模范。", "a"),
    ("平安社区：防范电信网络诈骗", "专为老年党员和居民准备的防诈骗三课。", "b"),
    ("健康生活小课堂", "冬季防跌倒、管好血压等实用健康知识。", "c"),
]
VOLUNTEERS = [("zhangxm", "张晓明", "13800000001"), ("liuyang", "刘洋", "13800000002")]
MEMBERS = [
    ("王秀英", "幸福里1号楼", "幸福路88号1栋2单元301", "13900000011", 1941, "年老体弱", "四川话"),
    ("李国华", "幸福里1号楼", "幸福路88号1栋1单元102", "13900000012", 1946, "年老体弱", "普通话"),
    ("陈桂兰", "幸福里3号楼", "幸福路88号3栋2单元502", "13900000013", 1938, "年老体弱", "四川话"),
    ("赵建国", "幸福里5号楼", "幸福路90号5栋1单元201", "13900000014", 1952, "在家", "普通话"),
    ("周志强", "流动党员", "广东省东莞市（务工）", "13900000015", 1985, "流动", "普通话"),
]


def load_demo(session: Session, settings) -> list[str]:
    """Add whatever demo data is missing; returns lines describing what was done."""
    report: list[str] = []
    limits = Limits.from_settings(settings)
    folder = resources.files(__package__)
    for title, description, prefix in SERIES:
        if session.scalar(select(Series).where(Series.title == title)):
            continue
        series = create_series(session, title, description)
        names = sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".md"))
        scripts = [parse_script(name, folder.joinpath(name).read_bytes(), limits) for name in names]
        import_scripts(session, series, scripts, None)
        report.append(f"演示专题「{title}」：{len(scripts)} 课")
    for username, name, phone in VOLUNTEERS:
        if get_user(session, username) is None:
            _, secret = create_user(session, username, "volunteer", display_name=name, phone=phone)
            report.append(f"演示志愿者 {name}：用户名 {username}，一次性密码 {secret}")
    if session.scalar(select(Member).limit(1)) is None:
        volunteers = [get_user(session, username) for username, _, _ in VOLUNTEERS]
        for index, (name, group, address, phone, birth_year, category, voice) in enumerate(MEMBERS):
            member = Member(name=name, group_name=group, address=address, phone=phone,
                            birth_year=birth_year, category=category, preferred_voice=voice)
            session.add(member)
            session.flush()
            # 结对: the first three (frail, at home) with 张晓明, the others with 刘洋.
            session.add(Pairing(member_id=member.id, user_id=volunteers[0 if index < 3 else 1].id))
        report.append(f"演示党员：{len(MEMBERS)} 人（已与演示志愿者结对）")
    if not report:
        report.append("演示数据已经载入过，没有重复载入。")
    return report

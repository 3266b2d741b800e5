"""Demo data: real-looking community lesson scripts, volunteers and members.

The scripts are Markdown files beside this module and go through the same importer as an
admin's uploads, so the demo also shows what an import produces. Loading is idempotent.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.importer import Limits, Script, parse_script
from core.lessons import create_series, import_scripts
from core.models import Listen, ListenSession, Member, Pairing, Rendition, Series, Status, User, Visit
from core.settings import Settings
from core.sharing import share_for
from core.users import create_user, get_user

SERIES = [
    ("2026年冬季党员学习包", "送学上门第四季度内容：学党章、交党费、身边的先锋模范。", "a"),
    ("平安社区：防范电信网络诈骗", "专为老年党员和居民准备的防诈骗三课。", "b"),
    ("健康生活小课堂", "冬季防跌倒、管好血压等实用健康知识。", "c"),
]
VOLUNTEERS = [("zhangxm", "张晓明", "13800000001"), ("liuyang", "刘洋", "13800000002")]
# So every overview shows something: 王秀英 visited on time, 李国华 overdue since his last visit,
# 陈桂兰 never visited and overdue, 赵建国 new on the roll and due for a first visit.
JOINED_DAYS_AGO = {"赵建国": 3}
VISITED_DAYS_AGO = {"王秀英": 2, "李国华": 12}
DEMO = "演示数据"  # the actor of everything the demo adds, in the audit log
MEMBERS = [
    ("王秀英", "幸福里1号楼", "幸福路88号1栋2单元301", "13900000011", 1941, "年老体弱", "四川话"),
    ("李国华", "幸福里1号楼", "幸福路88号1栋1单元102", "13900000012", 1946, "年老体弱", "普通话"),
    ("陈桂兰", "幸福里3号楼", "幸福路88号3栋2单元502", "13900000013", 1938, "年老体弱", "四川话"),
    ("赵建国", "幸福里5号楼", "幸福路90号5栋1单元201", "13900000014", 1952, "在家", "普通话"),
    ("周志强", "流动党员", "广东省东莞市（务工）", "13900000015", 1985, "流动", "普通话"),
]


def _script(name: str, data: bytes, limits: Limits) -> Script:
    script = parse_script(name, data, limits)
    if not isinstance(script, Script):  # the demo files are UTF-8: never an encoding question
        raise ValueError(f"演示讲稿 {name} 的编码无法确定")
    return script


def _volunteer(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise ValueError(f"演示志愿者 {username} 不存在")
    return user


def load_demo(session: Session, settings: Settings) -> list[str]:
    """Add whatever demo data is missing; returns lines describing what was done."""
    report: list[str] = []
    limits = Limits.from_settings(settings)
    folder = resources.files(__package__)
    for title, description, prefix in SERIES:
        if session.scalar(select(Series).where(Series.title == title)):
            continue
        series = create_series(session, title, description, actor=DEMO)
        names = sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(".md"))
        scripts = [_script(name, folder.joinpath(name).read_bytes(), limits) for name in names]
        import_scripts(session, series, scripts, DEMO)
        report.append(f"演示专题「{title}」：{len(scripts)} 课")
    for username, name, phone in VOLUNTEERS:
        if get_user(session, username) is None:
            _, secret = create_user(session, username, "volunteer", display_name=name, phone=phone, actor=DEMO)
            report.append(f"演示志愿者 {name}：用户名 {username}，一次性密码 {secret}")
    if session.scalar(select(Member).limit(1)) is None:
        volunteers = [_volunteer(session, username) for username, _, _ in VOLUNTEERS]
        now = utcnow()
        for index, (name, group, address, phone, birth_year, category, voice) in enumerate(MEMBERS):
            member = Member(name=name, group_name=group, address=address, phone=phone, birth_year=birth_year,
                            category=category, preferred_voice=voice,
                            created_at=now - timedelta(days=JOINED_DAYS_AGO.get(name, 60)))
            session.add(member)
            session.flush()
            # 结对: the first three (frail, at home) with 张晓明, the others with 刘洋.
            volunteer = volunteers[0 if index < 3 else 1]
            session.add(Pairing(member_id=member.id, user_id=volunteer.id))
            if name in VISITED_DAYS_AGO:
                session.add(Visit(client_key=str(uuid.uuid4()), member_id=member.id, volunteer_id=volunteer.id,
                                  visited_at=now - timedelta(days=VISITED_DAYS_AGO[name]), delivered="nothing",
                                  feedback="演示：送学上门，一起听了第1课。"))
        report.append(f"演示党员：{len(MEMBERS)} 人（已与演示志愿者结对；有按时走访的、超期的，也有刚登记待首次走访的）")
    if not report:
        report.append("演示数据已经载入过，没有重复载入。")
    return report


def add_demo_plays(session: Session) -> list[str]:
    """Two listens of the first rendered lesson — one from 王秀英's personal card, heard to the
    end yesterday, one from the general code — so the dashboard has something to show. Only
    once, and only when audio exists (the demo renders it first)."""
    if session.scalar(select(Listen).limit(1)) is not None:
        return []
    rendition = session.scalars(select(Rendition).where(Rendition.status == Status.DONE).order_by(Rendition.id)).first()
    member = session.scalar(select(Member).where(Member.name == "王秀英"))
    if rendition is None or member is None or not rendition.duration:
        return []
    now = utcnow()
    for card_member, heard, ago in ((member, rendition.duration, 1), (None, rendition.duration / 2, 0)):
        share = share_for(session, lesson=rendition.lesson, member=card_member)
        started = now - timedelta(days=ago, hours=2)
        listen_session = ListenSession(sid=secrets.token_urlsafe(12), share_token_id=share.id, created_at=started,
                                       user_agent="演示数据", credited_until=started + timedelta(seconds=heard))
        session.add(listen_session)
        session.flush()
        session.add(Listen(session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
                           share_token_id=share.id, member_id=share.member_id, duration=rendition.duration,
                           listened=heard, position=heard, quartile=4 if heard >= rendition.duration else 2,
                           beats=2, started_at=started, last_beat_at=started + timedelta(seconds=heard),
                           counted_at=started + timedelta(seconds=min(30.0, rendition.duration / 2)),
                           completed_at=started + timedelta(seconds=heard) if heard >= rendition.duration else None))
    return ["演示收听：2 次（其中 1 次来自王秀英的个人卡并听完），收听统计页有数据可看"]

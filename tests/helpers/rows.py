"""Rows of everything, for tests that must see every table full: query budgets, column
sizes, database copies."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.lessons import add_lesson
from core.models import (
    AuditEntry,
    DoorScan,
    GroupSession,
    Job,
    LessonQuestion,
    LexiconEntry,
    Listen,
    ListenerMessage,
    ListenSession,
    LoginFailure,
    Member,
    MessageReply,
    OfflineListen,
    Pack,
    PackItem,
    Pairing,
    QuestionAnswer,
    Rendition,
    Series,
    StudioAssignment,
    StudioTake,
    UploadRefusal,
    User,
    Visit,
)
from core.sharing import share_for
from core.visits import issue_card

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def seed(app, rows: int) -> dict:
    """`rows` of everything: members each paired with a volunteer, lessons with renditions
    and their jobs, packs, visits naming a pack and lessons, counted plays (some through
    personal cards), audit entries."""
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        volunteer = session.scalar(select(User).where(User.username == "vol"))
        series = Series(title="学习专题")
        session.add(series)
        session.flush()
        lessons = [add_lesson(session, series, f"第{n}课的题目", f"第{n}课的内容。") for n in range(rows)]
        members = [Member(name=f"党员{n}", phone=f"138{n:08d}", group_name=f"网格{n % 7}") for n in range(rows)]
        session.add_all(members)
        session.flush()
        session.add_all(Pairing(member_id=m.id, user_id=volunteer.id) for m in members)
        renditions = []
        for lesson in lessons:
            rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id="offline-mandarin",
                                  status="done", duration=300.0, file_path="aa/a.mp3", sha256="a" * 64,
                                  loudness=-16.0, size=2_400_000, rate=-10, engine="espeak")
            renditions.append(rendition)
        session.add_all(renditions)
        session.flush()
        session.add_all(Job(kind="render", rendition_id=r.id, status="done", payload="{}") for r in renditions)
        packs = [Pack(uuid=str(uuid.uuid4()), title=f"学习包{n}", voice_id="offline-mandarin", member_id=m.id,
                      created_by_id=volunteer.id, target="zip", lesson_count=1, total_duration=300.0,
                      total_size=1000, manifest="{}") for n, m in enumerate(members)]
        session.add_all(packs)
        session.flush()
        for n, (member, pack) in enumerate(zip(members, packs)):
            visit = Visit(client_key=str(uuid.uuid4()), member_id=member.id, volunteer_id=volunteer.id,
                          visited_at=NOW - timedelta(hours=n), delivered="pack", pack_id=pack.id, feedback="好")
            visit.lessons = [lessons[n]]
            session.add(visit)
        for n, (member, rendition) in enumerate(zip(members, renditions)):
            share = share_for(session, lesson=rendition.lesson, member=member if n % 2 else None)
            listen_session = ListenSession(sid=uuid.uuid4().hex, share_token_id=share.id, created_at=NOW)
            session.add(listen_session)
            session.flush()
            session.add(Listen(session_id=listen_session.id, rendition_id=rendition.id, lesson_id=rendition.lesson_id,
                               share_token_id=share.id, member_id=share.member_id, duration=300.0, listened=200.0,
                               quartile=2, started_at=NOW, last_beat_at=NOW, counted_at=NOW + timedelta(minutes=n)))
        session.add_all(AuditEntry(user_name="管理员", action="update", entity="member", entity_id=m.id,
                                   summary="修改党员", details=json.dumps({})) for m in members)
        session.add_all(PackItem(pack_id=pack.id, position=1, path=f"学习包/001 {lesson.label}.mp3", title=lesson.label,
                                 lesson_id=lesson.id, sha256="a" * 64, size=1000, duration=300.0)
                         for pack, lesson in zip(packs, lessons))
        card = issue_card(session, members[0], volunteer)
        session.flush()
        session.add(DoorScan(card_id=card.id, member_id=members[0].id, user_id=volunteer.id))
        session.add(OfflineListen(session_id=listen_session.id, client_id=uuid.uuid4().hex, rendition_id=renditions[0].id,
                                  lesson_id=lessons[0].id, duration=300.0, listened=100.0, began_at=NOW))
        session.add_all(ListenerMessage(session_id=listen_session.id, client_id=f"seed-{n:08d}", share_token_id=share.id,
                                        lesson_id=lessons[0].id, member_id=member.id, text="请问下次学什么？",
                                        created_at=NOW - timedelta(minutes=n)) for n, member in enumerate(members))
        session.flush()
        first_message = session.scalars(select(ListenerMessage).order_by(ListenerMessage.id)).first()
        session.add(MessageReply(message_id=first_message.id, text="下周三学习，志愿者会上门。", voice_id="offline-mandarin",
                                 audio_path="replies/1.mp3", duration=6.0, audio_error="", replied_by_id=volunteer.id,
                                 created_at=NOW))
        assignments = [StudioAssignment(lesson_id=lesson.id, lesson_version_id=lesson.versions[0].id,
                                        speaker_id=volunteer.id, speaker_name="王秀英", dialect="重庆话",
                                        rendition_id=rendition.id) for lesson, rendition in zip(lessons, renditions)]
        session.add_all(assignments)
        session.flush()
        session.add_all(StudioTake(assignment_id=a.id, paragraph=0, sha256=f"{a.id:064d}", path=f"takes/{a.id}.webm",
                                   duration=12.0, created_by_id=volunteer.id) for a in assignments)
        session.add(UploadRefusal(kind="message", session_id=listen_session.id, address_key="a" * 32, created_at=NOW))
        session.add(LoginFailure(username="nobody", address="127.0.0.1", failures=1))
        session.add(LexiconEntry(written="乡音测试词", spoken="乡音测试词", note="", pinyin="xiang1 yin1 ce4 shi4 ci2"))
        session.add(LessonQuestion(lesson_id=lessons[0].id, text="党费多久交一次？", answers='["按月交纳", "一年一次"]', right=0))
        session.add(QuestionAnswer(lesson_id=lessons[0].id, session_id=listen_session.id, member_id=members[0].id,
                                   question="党费多久交一次？", choice=0, correct=True, created_at=NOW))
        session.add(GroupSession(held_at=NOW, place="社区党群服务中心", note="集中收听", recorded_by_id=volunteer.id,
                                 lessons=lessons[:2], members=members[:2], created_at=NOW))
        series_token = share_for(session, series=series).token
        session.commit()
        return {"series": series.id, "lesson": lessons[-1].id, "member": members[-1].id,
                "series_token": series_token, "pack": packs[-1].uuid}

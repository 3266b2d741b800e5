"""A small series rendered with the offline voice, for the QR, listen and statistics tests."""
from __future__ import annotations

from app import settings_of
from core.lessons import add_lesson, create_series
from core.models import Member
from core.rendering import request_render
from tests.helpers.jobs import run_jobs

LESSONS = [
    ("学习党章", "党章是党的根本大法。我们一起学习党章，做合格党员。"),
    ("按时交纳党费", "按时交纳党费是党员的义务。每月记得交党费。"),
]


def rendered_series(app, voices=("offline-mandarin",)) -> dict:
    """Two short lessons, each rendered in `voices`; returns ids for the test to use."""
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lessons = [add_lesson(session, series, title, text) for title, text in LESSONS]
        member = Member(name="王秀英", group_name="幸福里1号楼", preferred_voice="")
        session.add(member)
        session.commit()
        renditions = []
        for lesson in lessons:
            for voice in voices:
                rendition, _ = request_render(session, lesson, settings_of(app), voice_id=voice)
                renditions.append(rendition.id)
        ids = {"series": series.id, "lessons": [lesson.id for lesson in lessons], "member": member.id,
               "renditions": renditions}
    run_jobs(app)
    return ids

"""听后一问: one short question after a lesson, with two or three short spoken answers.

Playing a lesson shows that it reached someone, not that it was understood. An admin may give
a lesson one question; it is spoken at the end of the lesson's audio (so a member listening on
a plug-in player hears it too), asked on the listen page, and asked again by the volunteer at
the next visit. The right answer is a record, never shown before someone answers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.intake import Taken
from core.access import member_for
from core.audit import Actor, audit
from core.db import MAX_ID, hold, utcnow
from core.errors import Forbidden, Invalid, NotFound
from core.listening import Rules, lesson_allowed
from core.models import (
    Lesson,
    LessonQuestion,
    Member,
    Pack,
    PackItem,
    QuestionAnswer,
    Rendition,
    ShareToken,
    User,
    Visit,
)
from core.plays import listen_session_for, listener_of
from core.settings import Settings
from core.storage import note_key, open_store

MAX_QUESTION, MAX_ANSWER = 40, 16
MAX_VISIT_ANSWERS = 50  # the visit form asks at most ten
LETTERS = "ABC"


class QuestionError(Invalid):
    """A question that cannot be kept; str() says why, in Chinese."""


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    right: int

    @property
    def printed(self) -> str:
        """The question and its lettered answers on one line, for a pack's catalogue."""
        return f"{self.text} " + " ".join(f"{LETTERS[n]}、{answer}" for n, answer in enumerate(self.answers))

    @property
    def parts(self) -> tuple[str, ...]:
        """What the audio says after the lesson, spoken part by part so the listen page can
        play the question or one answer alone: the question, each answer with its letter,
        then how to answer."""
        return (f"听后一问：{self.text}", *(f"{LETTERS[n]}、{answer}。" for n, answer in enumerate(self.answers)),
                "请在手机上选一个答案，或者告诉来看望您的志愿者。")

    @property
    def spoken(self) -> str:
        """The parts as one text: what a rendition records as the question it speaks."""
        return " ".join(self.parts)


def spoken_spans(rendition: Rendition, question: Question) -> list[list[float]] | None:
    """Where this audio says the question and each answer, when it says the question as it is
    now (audio made before a change says the old one, and offers nothing to replay)."""
    if rendition.question != question.spoken or not rendition.question_spans:
        return None
    return json.loads(rendition.question_spans)[:1 + len(question.answers)]


def question_of(session: Session, lesson: Lesson) -> Question | None:
    row = session.scalar(select(LessonQuestion).where(LessonQuestion.lesson_id == lesson.id))
    return Question(row.text, tuple(json.loads(row.answers)), row.right) if row else None


def _checked(text: str, answers: list[str], right: int) -> Question:
    text = " ".join(text.split())
    answers = [" ".join(answer.split()) for answer in answers if answer.strip()]
    if not text:
        raise QuestionError("请写上问题")
    if len(text) > MAX_QUESTION:
        raise QuestionError(f"问题最多 {MAX_QUESTION} 个字，老人听一遍要能记住")
    if not 2 <= len(answers) <= len(LETTERS):
        raise QuestionError("请写两到三个答案")
    if any(len(answer) > MAX_ANSWER for answer in answers):
        raise QuestionError(f"每个答案最多 {MAX_ANSWER} 个字")
    if len(set(answers)) != len(answers):
        raise QuestionError("答案不能重复")
    if not 0 <= right < len(answers):
        raise QuestionError("请选出正确的答案")
    return Question(text, tuple(answers), right)


def set_question(session: Session, lesson: Lesson, text: str, answers: list[str], right: int, actor: Actor) -> Question:
    """Give the lesson its question (or change it). The lesson's audio says the question, so
    a changed question asks for the lesson's audio again (core.rendering.regenerate). Flushes."""
    question = _checked(text, answers, right)
    row = session.scalar(select(LessonQuestion).where(LessonQuestion.lesson_id == lesson.id))
    if row is None:
        row = LessonQuestion(lesson_id=lesson.id)
        session.add(row)
    row.text, row.answers, row.right = question.text, json.dumps(list(question.answers), ensure_ascii=False), right
    session.flush()
    audit(session, actor, "update", "lesson", lesson.id, f"第{lesson.number}课《{lesson.title}》的听后一问：{question.text}")
    return question


def remove_question(session: Session, lesson: Lesson, actor: Actor) -> None:
    row = session.scalar(select(LessonQuestion).where(LessonQuestion.lesson_id == lesson.id))
    if row is not None:
        session.delete(row)
        session.flush()
        audit(session, actor, "update", "lesson", lesson.id, f"去掉第{lesson.number}课《{lesson.title}》的听后一问")


@dataclass(frozen=True)
class Answered:
    correct: bool
    right: int  # the right answer's index, told only once the phone has answered
    first: bool  # False: the phone had answered before (the first answer is the one kept)


def answer_from_phone(session: Session, sid: str, share: ShareToken, lesson_id: object, choice: object, rules: Rules,
                      *, sent_later: bool = False, user_agent: str = "", address: str = "",
                      now: datetime | None = None) -> Answered:
    """A phone's answer to a lesson's question: once per phone and lesson (a second answer,
    or the same sent again after a lost connection, changes nothing and hears the first
    one's result). The code must reach the lesson; a personal card names the member. Checked
    and written under a lock on the phone; commits, like every listen-page post."""
    now = now or utcnow()
    lesson = session.get(Lesson, lesson_id) if isinstance(lesson_id, int) and 0 < lesson_id <= MAX_ID else None
    if lesson is None or not lesson_allowed(share, lesson):
        raise NotFound("找不到这一课")
    asked = question_of(session, lesson)
    if asked is None:
        raise NotFound("这一课没有听后一问")
    if not isinstance(choice, int) or isinstance(choice, bool) or not 0 <= choice < len(asked.answers):
        raise QuestionError("请选一个答案")
    hold(session, f"answer:{sid}")
    listen_session = listen_session_for(session, sid, share, rules, now, user_agent, address)
    kept = session.scalar(select(QuestionAnswer).where(QuestionAnswer.session_id == listen_session.id,
                                                       QuestionAnswer.lesson_id == lesson.id))
    first = kept is None
    if kept is None:
        kept = QuestionAnswer(lesson_id=lesson.id, session_id=listen_session.id,
                              member_id=listener_of(listen_session, share),
                              question=asked.text, choice=choice, correct=choice == asked.right,
                              sent_later=sent_later, created_at=now)
        session.add(kept)
    session.commit()
    return Answered(bool(kept.correct), asked.right, first)


def questions_for_visit(session: Session, member: Member, limit: int = 10) -> list[tuple[Lesson, Question]]:
    """What the volunteer asks at the door: the questions of lessons in packs handed to this
    member, not yet answered by them (from a phone or at an earlier visit)."""
    delivered = (select(PackItem.lesson_id).join(Pack, Pack.id == PackItem.pack_id)
                 .where(Pack.member_id == member.id, Pack.delivered_at.is_not(None)))
    answered = select(QuestionAnswer.lesson_id).where(QuestionAnswer.member_id == member.id)
    rows = session.execute(select(Lesson, LessonQuestion).join(LessonQuestion, LessonQuestion.lesson_id == Lesson.id)
                           .where(Lesson.id.in_(delivered), Lesson.id.not_in(answered))
                           .order_by(Lesson.series_id, Lesson.number).limit(limit))
    return [(lesson, Question(row.text, tuple(json.loads(row.answers)), row.right)) for lesson, row in rows]


def record_visit_answers(session: Session, visit_id: int, member: Member, answers: dict[int, int | None],
                         now: datetime) -> None:
    """The member's answers the volunteer recorded (None: 没听/不记得); a lesson without a
    question, or a choice it does not have, is refused with the reason. Flushes."""
    if len(answers) > MAX_VISIT_ANSWERS:
        raise QuestionError(f"一次走访最多记 {MAX_VISIT_ANSWERS} 个回答")
    for lesson_id, choice in answers.items():
        lesson = session.get(Lesson, lesson_id) if 0 < lesson_id <= MAX_ID else None
        asked = question_of(session, lesson) if lesson is not None else None
        if lesson is None or asked is None:
            raise QuestionError("所选的课程没有听后一问")
        if choice is not None and not 0 <= choice < len(asked.answers):
            raise QuestionError(f"第{lesson.number}课的听后一问：请选一个答案")
        session.add(QuestionAnswer(lesson_id=lesson_id, visit_id=visit_id, member_id=member.id, question=asked.text,
                                   choice=choice, correct=None if choice is None else choice == asked.right,
                                   created_at=now))
    session.flush()


def keep_voice_answers(session: Session, settings: Settings, visit: Visit, voices: dict[int, Taken]) -> None:
    """The member's answers in their own words, for the questions the volunteer marked 录下回答
    (recorded with choice None by record_visit_answers): each kept in the store beside the
    visit's voice note, to be heard and judged by an organiser. Flushes."""
    store = open_store(settings)
    for lesson_id, taken in voices.items():
        row = session.scalar(select(QuestionAnswer).where(QuestionAnswer.visit_id == visit.id,
                                                          QuestionAnswer.lesson_id == lesson_id))
        if row is None:
            raise QuestionError("所选的课程没有听后一问")
        name = f"{visit.client_key}-q{lesson_id}.mp3"
        store.put(taken.path, note_key(name), replace=True)
        row.voice_path = name
    session.flush()


def voice_answer_for(session: Session, user: User, answer_id: int) -> QuestionAnswer:
    """A spoken answer, for someone who may see its member (core.access)."""
    answer = session.get(QuestionAnswer, answer_id) if 0 < answer_id <= MAX_ID else None
    if answer is None or not answer.voice_path or answer.member_id is None:
        raise NotFound("没有这段回答录音")
    member_for(session, user, answer.member_id)
    return answer


VERDICTS = {"right": True, "wrong": False}


def judge_voice_answer(session: Session, user: User, answer_id: int, verdict: str) -> QuestionAnswer:
    """An organiser listened to a spoken answer and says whether it shows the lesson was
    understood ("right" or "wrong"); the ledger then counts it like a chosen answer. Admins
    only. Flushes."""
    if not user.is_admin:
        raise Forbidden("只有管理员可以判断回答")
    answer = voice_answer_for(session, user, answer_id)
    if verdict not in VERDICTS:
        raise QuestionError("请选“听懂了”或“答错”")
    answer.correct = VERDICTS[verdict]
    session.flush()
    audit(session, user, "update", "question_answer", answer.id,
          f"判断语音回答（{answer.question}）：{'听懂了' if answer.correct else '答错'}")
    return answer

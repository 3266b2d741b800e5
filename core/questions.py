"""听后一问: one short question after a lesson, with two or three short spoken answers.

Playing a lesson shows that it reached someone, not that it was understood. An admin may give
a lesson one question; it is spoken at the end of the lesson's audio (so a member listening on
a plug-in player hears it too), asked on the listen page, and asked again by the volunteer at
the next visit. The right answer is a record, never shown before someone answers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import Actor, audit
from core.errors import Invalid
from core.models import Lesson, LessonQuestion

MAX_QUESTION, MAX_ANSWER = 40, 16
LETTERS = "ABC"


class QuestionError(Invalid):
    """A question that cannot be kept; str() says why, in Chinese."""


@dataclass(frozen=True)
class Question:
    text: str
    answers: tuple[str, ...]
    right: int

    @property
    def spoken(self) -> str:
        """What the audio says after the lesson: the question, then each answer with its letter."""
        choices = "".join(f"{LETTERS[n]}、{answer}。" for n, answer in enumerate(self.answers))
        return f"听后一问：{self.text} {choices}请在手机上选一个答案，或者告诉来看望您的志愿者。"


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

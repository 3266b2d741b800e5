"""Jobs whose work disappeared while they waited end as cancelled, with a plain message,
and the pages waiting on them say so."""
from __future__ import annotations

from sqlalchemy import select

from app import job_runner, settings_of
from core.lessons import add_lesson, create_series, delete_lesson
from core.models import Job, Lesson, Member, Status, User
from core.packs import request_pack
from core.rendering import request_render
from tests.helpers.web import Client, add_user, page_text


def test_a_lesson_deleted_while_queued_cancels_its_render_and_the_pack_waiting_for_it(app):
    boss = add_user(app, "boss", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "专题", actor=None)
        lesson = add_lesson(session, series, "学习党章", "认真学习党章。")
        member = Member(name="王秀英", phone="13800000001")
        session.add(member)
        session.flush()
        _, render_job = request_render(session, lesson, settings_of(app))
        pack_job = request_pack(session, settings_of(app), [lesson], "offline-mandarin",
                                user=session.get(User, boss.id), member=member)
        session.commit()
        ids = render_job.id, pack_job.id
        delete_lesson(session, session.get(Lesson, lesson.id))
        session.commit()
    job_runner(app).run_until_idle()
    with app.extensions["xiangyin.db"].session() as session:
        render, pack = (session.get(Job, job_id) for job_id in ids)
        assert (render.status, render.message) == (Status.CANCELLED, "这一课在排队时被删除了，不再生成")
        assert pack.status == Status.CANCELLED
        assert pack.message == "学习包里有 1 课在排队时被删除了，学习包没有做；需要时请重新制作"
        assert session.scalar(select(Job).where(Job.status.in_((Status.QUEUED, Status.RUNNING)))) is None
    admin = Client(app.test_client())
    admin.login("boss")
    assert admin.get(f"/packs/making/{ids[1]}.json").get_json()["status"] == "cancelled"
    assert "已取消：学习包里有 1 课在排队时被删除了" in page_text(admin.get(f"/packs/making/{ids[1]}"))


def test_an_unexpected_failure_is_logged_and_the_page_gets_plain_words(app, monkeypatch, caplog):
    from core import worker
    from core.queue import enqueue
    from core.worker import run_job

    def explode(session, job, context):
        raise KeyError("segment_cache_index")

    monkeypatch.setitem(worker.HANDLERS, "boom", explode)
    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        job = enqueue(session, "boom", {}, active_key="boom")
    run_job(database, settings_of(app), job.id)
    with database.session() as session:
        failed = session.get(Job, job.id)
        assert failed.status == Status.FAILED
        assert failed.message == "内部错误，没有完成；详情已记入服务器日志，请告诉管理员"
    assert "KeyError" in caplog.text and "segment_cache_index" in caplog.text, "the details are in the log"

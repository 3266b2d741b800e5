"""Upgrades on several machines: a worker claims work only on the schema its code was written
for — it waits while the new release's migration is still to run, and stops (for its service
manager to start the new code) once a newer release has migrated the database."""
from __future__ import annotations

import logging

from sqlalchemy import text

from app import settings_of
from core.models import Job, Status
from core.queue import enqueue
from core.worker import InProcessRunner


def _revision(app, revision: str | None) -> None:
    with app.extensions["xiangyin.db"].engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        if revision:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def test_a_worker_waits_for_the_migration_and_stops_for_a_newer_release(app, db, caplog):
    database = app.extensions["xiangyin.db"]
    head = database.head_revision()
    job = enqueue(db, "rollups", {}, active_key="rollups")
    runner = InProcessRunner(database, settings_of(app))
    assert database.schema() == "current"

    _revision(app, "0020")  # this release's last migration not applied yet
    with caplog.at_level(logging.WARNING, logger="core.worker"):
        assert database.schema() == "behind" and runner._work_once() is False and runner._work_once() is False
    assert db.get(Job, job.id).status == Status.QUEUED and not runner.outdated
    assert sum("not migrated to this release yet" in r.getMessage() for r in caplog.records) == 1, "said once"

    _revision(app, head)
    assert runner._work_once() is True
    db.expire_all()
    assert db.get(Job, job.id).status == Status.DONE

    later = enqueue(db, "rollups", {}, active_key="rollups-2")
    _revision(app, "9999_a_newer_release")
    with caplog.at_level(logging.WARNING, logger="core.worker"):
        assert database.schema() == "ahead" and runner._work_once() is False
    assert runner.outdated and "stops for a restart" in caplog.text
    db.expire_all()
    assert db.get(Job, later.id).status == Status.QUEUED, "left for a worker of the new release"
    _revision(app, head)


def test_listen_pages_and_beats_wait_out_the_migration_instead_of_refusing(app):
    """The database one migration behind this code, `xiangyin init` starting while phones
    open the page and report: they are answered once the migration is done, never 503."""
    import threading

    from alembic import command

    from core.lessons import add_lesson, create_series
    from core.models import Lesson, Rendition
    from core.sharing import share_for
    from tests.helpers.listen import beat as report

    database = app.extensions["xiangyin.db"]
    with database.session() as session:
        lesson = add_lesson(session, create_series(session, "专题", actor=None), "学习党章", "认真学习党章。")
        rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id="offline-mandarin",
                              status="done", duration=600.0, file_path="aa/a.mp3", sha256="a" * 64)
        session.add(rendition)
        token = share_for(session, lesson=session.get(Lesson, lesson.id)).token
        session.commit()
        rendition_id = rendition.id
    phone = app.test_client()
    assert phone.get(f"/l/{token}").status_code == 200  # the phone's listen cookie
    app.extensions.pop("xiangyin.db_ready")
    app.wsgi_app.ready = False  # a process started during the roll-out: it checks the schema again
    config = database._alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    assert database.schema() == "behind"

    answers: dict[str, int] = {}

    def page() -> None:
        answers["page"] = phone.get(f"/l/{token}").status_code

    def beat() -> None:
        answers["beat"] = report(phone, token, rendition_id, "play").status_code

    looked, schema = threading.Semaphore(0), database.schema

    def watched() -> str:
        looked.release()
        return schema()

    database.schema = watched  # type: ignore[method-assign]
    asking = [threading.Thread(target=target) for target in (page, beat)]
    for thread in asking:
        thread.start()
    for _ in range(4):  # each request has looked at the schema twice: both are waiting
        assert looked.acquire(timeout=10)
    assert answers == {}, "they wait while the migration has not run"
    database.upgrade()  # xiangyin init
    for thread in asking:
        thread.join(20)
    assert answers == {"page": 200, "beat": 200}

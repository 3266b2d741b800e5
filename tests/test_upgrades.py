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

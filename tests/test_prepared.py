"""The heartbeat's statements run on the driver's connection (core.db.Prepared): what they
write and read must equal what the ORM writes and reads, on SQLite and on PostgreSQL, and the
session clock and the listen must still change together or not at all without a transaction
around the heartbeat."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import bindparam, select, update

from core.db import Prepared, UTCDateTime
from core.errors import Conflict
from core.listening import Rules
from core.models import Listen, ListenSession
from core.plays import _hot_path, _write, beat_open_listen, record_beat

pytestmark = pytest.mark.fast
T0 = datetime(2026, 11, 20, 15, 59, 30, tzinfo=UTC)


def opened(db, tracks):
    renditions, general, _ = tracks
    record_beat(db, "phone-1", general.token, renditions[0].id, "play", 0, 0, Rules(), now=T0)
    return renditions, general, db.scalars(select(Listen)).one()


def test_a_prepared_select_reads_what_the_orm_reads(db, tracks):
    _, _, listen = opened(db, tracks)
    engine = db.get_bind()
    statement = select(Listen.id, Listen.started_at, Listen.duration, Listen.counted_day, Listen.counted_at,
                       ListenSession.sid).join(ListenSession).where(Listen.id == bindparam("id"))
    connection = engine.raw_connection()
    try:
        row = Prepared(statement, engine.dialect).first(connection, {"id": listen.id})
        missing = Prepared(statement, engine.dialect).first(connection, {"id": listen.id + 1})
    finally:
        connection.close()
    assert row == (listen.id, T0, 60.0, None, None, "phone-1")
    assert row.started_at.tzinfo is not None and row.sid == "phone-1"
    assert missing is None


def test_a_prepared_update_writes_what_the_orm_writes(db, tracks):
    _, _, listen = opened(db, tracks)
    engine, beats = db.get_bind(), listen.beats
    counted = T0 + timedelta(seconds=45)
    statement = (update(Listen).where(Listen.id == bindparam("id"))
                 .values(counted_at=bindparam("at", type_=UTCDateTime()), counted_day=bindparam("day"),
                         beats=Listen.beats + 5))
    connection = engine.raw_connection()
    try:
        changed = Prepared(statement, engine.dialect).rowcount(
            connection, {"id": listen.id, "at": counted, "day": date(2026, 11, 21)})
        connection.commit()
    finally:
        connection.close()
    assert changed == 1
    db.expire_all()
    again = db.get(Listen, listen.id)
    assert (again.counted_at, again.counted_day, again.beats) == (counted, date(2026, 11, 21), beats + 5)


def test_on_an_autocommit_connection_the_clock_and_the_listen_change_together_or_not_at_all(app, db, tracks):
    _, _, listen = opened(db, tracks)
    engine = app.extensions["xiangyin.db"].autocommit
    hot = _hot_path(engine.dialect)
    session_id, beats = listen.session_id, listen.beats
    old = db.get(ListenSession, session_id).credited_until
    never = datetime(2000, 1, 1, tzinfo=UTC)
    clock = {"c_id": session_id, "c_never": never, "c_old": old or never, "c_new": T0 + timedelta(seconds=20)}
    stale_beat = {"b_id": listen.id, "b_beats": beats + 7, "b_now": T0, "b_counted": None,
                  "b_counted_day": None, "b_completed": None, "b_listened": 99.0, "b_position": 1.0,
                  "b_quartile": 0}
    connection = engine.raw_connection()
    try:
        with pytest.raises(Conflict):
            _write(connection, [(hot.save_clock, clock), (hot.save_beat, stale_beat)], begin=True)
        _write(connection, [(hot.save_clock, clock), (hot.save_beat, {**stale_beat, "b_beats": beats})],
               begin=True)
    finally:
        connection.close()
    db.expire_all()
    assert db.get(ListenSession, session_id).credited_until == T0 + timedelta(seconds=20)
    assert db.get(Listen, listen.id).listened == 99.0 and db.get(Listen, listen.id).beats == beats + 1


def test_a_heartbeat_on_an_autocommit_connection_counts_like_one_in_a_session(app, db, tracks):
    renditions, general, listen = opened(db, tracks)
    engine = app.extensions["xiangyin.db"].autocommit
    connection = engine.raw_connection()
    try:
        for step in range(1, 5):
            result = beat_open_listen(connection, engine.dialect, "phone-1", general.token, renditions[0].id, "beat",
                                      10, step * 10, Rules(), now=T0 + timedelta(seconds=10 * step),
                                      autocommit=True)
    finally:
        connection.close()
    assert result is not None and result.counted and result.listened == 40.0
    db.expire_all()
    stored = db.get(Listen, listen.id)
    # Counted at 15:59:30 + 40 s UTC: already the next day in Beijing.
    assert stored.listened == 40.0 and stored.counted_day == date(2026, 11, 21)
    assert stored.counted_at == T0 + timedelta(seconds=30)

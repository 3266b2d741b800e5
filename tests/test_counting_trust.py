"""Counts that cannot be inflated or lost: one phone is one listener, renditions played at
once share its time, a script discarding cookies is not credited while a village behind one
NAT still is, a signal drop's seconds are credited, and limits hold across processes."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import DomainError, Gone
from core.listening import Rules
from core.models import Listen, ListenSession
from core.plays import address_key, record_beat
from core.sharing import revoke
from tests.helpers.browser import serve
from tests.helpers.ports import free_port, wait_for
from web.errors import status_for

ROOT = Path(__file__).resolve().parent.parent

RULES = Rules()
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def listen(db, sid, share, rendition, start, seconds=60.0, address="", step=10.0):
    record_beat(db, sid, share.token, rendition.id, "play", 0, 0, RULES, now=start, address=address)
    done = 0.0
    while done < seconds:
        done += step
        record_beat(db, sid, share.token, rendition.id, "beat", step, min(done, 60), RULES,
                    now=start + timedelta(seconds=done), address=address)


def plays(db) -> int:
    return db.scalar(select(func.count()).select_from(Listen).where(Listen.counted_at.is_not(None)))


def test_three_renditions_at_once_earn_one_listeners_time(db, tracks):
    renditions, general, _ = tracks
    for rendition in renditions:
        record_beat(db, "phone", general.token, rendition.id, "play", 0, 0, RULES, now=T0)
    for second in range(10, 70, 10):
        for rendition in renditions:
            record_beat(db, "phone", general.token, rendition.id, "beat", 10, second, RULES,
                        now=T0 + timedelta(seconds=second))
    total = db.scalar(select(func.sum(Listen.listened)))
    assert total <= 60 + RULES.slack
    assert plays(db) == 1


def test_a_script_discarding_cookies_is_not_credited(db, tracks):
    renditions, general, _ = tracks
    address = address_key("203.0.113.7", "secret")
    for n in range(200):  # 200 fresh sessions in 40 s, each listening 30 s
        listen(db, f"bot{n}", general, renditions[0], T0 + timedelta(seconds=n * 0.2), seconds=30, address=address)
    assert plays(db) == RULES.new_listeners
    uncredited = db.scalar(select(func.count()).select_from(ListenSession).where(ListenSession.credited.is_(False)))
    assert uncredited == 200 - RULES.new_listeners


def test_a_village_behind_one_nat_keeps_every_play(db, tracks):
    """300 phones behind one address, arriving over two hours as people do, each listening
    to the end: every play and every second is kept."""
    renditions, general, _ = tracks
    address = address_key("198.51.100.1", "secret")
    rng = random.Random(7)
    arrivals = sorted(rng.uniform(0, 7200) for _ in range(300))
    for n, offset in enumerate(arrivals):
        listen(db, f"phone{n}", general, renditions[n % 3], T0 + timedelta(seconds=offset), address=address, step=20)
    assert plays(db) == 300
    assert db.scalar(select(func.sum(Listen.listened))) == pytest.approx(300 * 60)


def test_seconds_after_a_signal_drop_are_credited_up_to_the_cap(db, tracks):
    renditions, general, _ = tracks
    record_beat(db, "phone", general.token, renditions[0].id, "play", 0, 0, RULES, now=T0)
    result = record_beat(db, "phone", general.token, renditions[0].id, "beat", 58, 58, RULES, now=T0 + timedelta(seconds=110))
    assert result.accepted == pytest.approx(58) and result.counted


def test_a_revoked_personal_card_stops_counting_whatever_code_the_beats_name(db, tracks):
    renditions, general, personal = tracks
    record_beat(db, "phone", personal.token, renditions[0].id, "play", 0, 0, RULES, now=T0)
    revoke(db, personal)
    db.commit()
    with pytest.raises(Gone):
        record_beat(db, "phone", general.token, renditions[0].id, "beat", 10, 10, RULES, now=T0 + timedelta(seconds=10))
    assert db.scalar(select(Listen.listened)) == 0


def test_the_beat_limit_is_shared_by_every_process(make_app, tracks):
    """Two app instances (two worker processes) on one database share one bucket."""
    renditions, general, _ = tracks
    first, second = make_app(), make_app()
    answers = []
    for n in range(12):
        app = (first, second)[n % 2]
        with app.extensions["xiangyin.db"].session() as session:
            try:
                record_beat(session, "phone", general.token, renditions[0].id, "play", 0, 0, RULES, now=T0)
                answers.append(200)
            except DomainError as exc:
                answers.append(status_for(exc))
    assert answers.count(200) == RULES.beat_burst and set(answers[int(RULES.beat_burst):]) == {429}


@pytest.mark.slow
def test_racing_heartbeats_against_a_real_server_never_add_up_past_the_clock(app, tracks):
    renditions, general, _ = tracks
    with serve(app) as base:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        opener.open(f"{base}/l/{general.token}").read()

        def beat(event: str, rendition_id: int, claimed: float) -> int:
            body = json.dumps({"t": general.token, "r": rendition_id, "e": event, "d": claimed, "p": 1}).encode()
            try:
                return opener.open(urllib.request.Request(f"{base}/listen/beat", body)).status
            except urllib.error.HTTPError as exc:
                return exc.code

        for rendition in renditions:
            assert beat("play", rendition.id, 0) == 200
        statuses: list[int] = []
        threads = [threading.Thread(target=lambda r=r: statuses.append(beat("beat", r.id, 60)))
                   for r in renditions for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(statuses) <= {200, 409, 429}
    with app.extensions["xiangyin.db"].session() as session:
        total = session.scalar(select(func.sum(Listen.listened)))
    assert total <= 5 + RULES.slack, "a few seconds passed: no more can have been credited"


def test_uncredited_listening_is_shown_apart_on_the_dashboard(db, tracks):
    from core.reports.listening import Filters, summarise

    renditions, general, _ = tracks
    address = address_key("203.0.113.8", "secret")
    for n in range(RULES.new_listeners + 5):
        listen(db, f"bot{n}", general, renditions[0], T0 + timedelta(seconds=n), seconds=30, address=address)
    summary = summarise(db, Filters(T0.date(), T0.date()))
    assert summary.plays == RULES.new_listeners and summary.uncredited == 5


@pytest.mark.slow
def test_the_beat_limit_holds_across_two_gunicorn_workers(app, tracks, data_dir, tmp_path):
    """The limits live in the database rows, so two gunicorn workers answering one phone's
    heartbeats in turn still let exactly the burst through."""
    renditions, general, _ = tracks
    gunicorn = Path(sys.executable).with_name("gunicorn")
    port, log = free_port(), tmp_path / "access.log"
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "XIANGYIN_HEARTBEAT_SESSION_BURST": "6", "XIANGYIN_HEARTBEAT_SESSION_RATE": "0.0001"}
    server = subprocess.Popen([str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--access-logfile", str(log),
                               "--access-logformat", "%(p)s %(s)s %(U)s", "app:create_app()"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, server)
        base = f"http://127.0.0.1:{port}"

        def answering() -> set[str]:
            return {line.split()[0] for line in log.read_text().splitlines()} if log.exists() else set()

        deadline = time.monotonic() + 30
        while len(answering()) < 2 and time.monotonic() < deadline:  # both workers booted
            pages = [threading.Thread(target=lambda: urllib.request.urlopen(f"{base}/login").read()) for _ in range(4)]
            for thread in pages:
                thread.start()
            for thread in pages:
                thread.join()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        opener.open(f"{base}/l/{general.token}").read()
        body = json.dumps({"t": general.token, "r": renditions[0].id, "e": "play", "d": 0, "p": 0}).encode()

        def beat() -> int:
            try:
                return opener.open(urllib.request.Request(f"{base}/listen/beat", body)).status
            except urllib.error.HTTPError as exc:
                return exc.code

        answers: list[int] = []
        for _ in range(12):  # two at a time, so both workers answer
            pair = [threading.Thread(target=lambda: answers.append(beat())) for _ in range(2)]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join()
    finally:
        server.terminate()
        server.wait(10)
    assert answers.count(200) == 6 and set(answers) <= {200, 409, 429}
    assert answers.count(429) >= 24 - 6 - answers.count(409) > 0
    beats = [line.split() for line in log.read_text().splitlines() if line.endswith("/listen/beat")]
    assert len({pid for pid, _, _ in beats}) == 2, "both workers answered heartbeats"

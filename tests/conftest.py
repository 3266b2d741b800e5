"""Fixtures: every test gets its own data directory and a migrated database — an SQLite file,
or with `--db=postgresql` a PostgreSQL database copied from a migrated template on a
throw-away server (tests/helpers/postgres.py)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import select

from app import create_app, settings_of
from core.clock import FrozenClock, use
from core.db import Database
from core.lessons import add_lesson, create_series
from core.models import DoorCard, Job, Member, Pack, Pairing, QuestionAnswer, Rendition, Series, Visit
from core.sharing import share_for
from core.visits import issue_card
from tests.helpers.web import Client, add_user

WORLD_MEMBER = "甄秋菊"  # a name no page uses as an example
DATABASE_FILE = "xiangyin.sqlite3"  # the default DATABASE_URL under DATA_DIR


def pytest_addoption(parser):
    parser.addoption("--db", choices=("sqlite", "postgresql"), default=os.environ.get("XIANGYIN_TEST_DB", "sqlite"),
                     help="the database every test app uses (default sqlite; scripts/test.sh runs both)")


def pytest_report_header(config):
    return f"database: {config.getoption('--db')}"


def pytest_collection_modifyitems(config, items):
    """`fast` is everything that needs neither audio, outside tools nor a browser: tests
    say when they are slow (module- or test-wide) or drive a browser, and the rest is the
    inner loop, `pytest -m fast`. Browser tests run on SQLite only: what they judge is the
    page, and the same pages are served by the PostgreSQL run's other tests."""
    for item in items:
        if item.get_closest_marker("slow") is None and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.fast)
    if config.getoption("--db") == "postgresql":
        browser = [item for item in items if item.get_closest_marker("browser") is not None]
        if browser:
            config.hook.pytest_deselected(items=browser)
            items[:] = [item for item in items if item.get_closest_marker("browser") is None]


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes():
    """Production hashes with scrypt at N=32768 (0.1 s a hash, on purpose); tests hash with
    N=1024 so hundreds of logins stay quick. The unknown-user dummy hash is made the same
    way, so the timing test still compares like with like."""
    from werkzeug.security import generate_password_hash

    import core.users

    def cheap(password: str) -> str:
        return generate_password_hash(password, method="scrypt:1024:8:1")

    saved = core.users.generate_password_hash, core.users._DUMMY_HASH
    core.users.generate_password_hash, core.users._DUMMY_HASH = cheap, cheap("xiangyin-no-such-user")
    yield
    core.users.generate_password_hash, core.users._DUMMY_HASH = saved


@pytest.fixture
def freeze():
    """Stop core.clock for this test, everywhere at once: `clock = freeze(t)`, then
    `clock.advance(hours=3)`; time runs again after the test."""
    stack = contextlib.ExitStack()

    def start(moment: datetime) -> FrozenClock:
        frozen = FrozenClock(moment)
        stack.enter_context(use(frozen))
        return frozen

    yield start
    stack.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def postgres(request):
    """The PostgreSQL server of this run (None on SQLite): XIANGYIN_TEST_POSTGRES_URL's, or
    a throw-away cluster started here."""
    if request.config.getoption("--db") != "postgresql":
        yield None
        return
    from tests.helpers.postgres import Cluster, Server

    configured = os.environ.get("XIANGYIN_TEST_POSTGRES_URL")
    cluster = None if configured else Cluster()
    server = Server(configured or cluster.base_url)
    yield server
    server.dispose()
    if cluster is not None:
        cluster.stop()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory, postgres) -> Path | str:
    """One database migrated to head for the whole run; each test starts from a copy, which
    is the same database the migrations would make, without running them 700 times. SQLite:
    a file; PostgreSQL: the name of a template database."""
    if postgres is not None:
        name = postgres.create()
        template = Database(postgres.url(name))
        template.upgrade()
        template.dispose()
        return name
    folder = tmp_path_factory.mktemp("template")
    database = Database(f"sqlite:///{folder / DATABASE_FILE}")
    database.upgrade()
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return folder / DATABASE_FILE


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per test run, not once per test's app (keyed by name and
    source checksum, so an edited template is compiled again)."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One S3-compatible server for the run; a test takes a bucket of its own."""
    from tests.helpers.objectstore import SeaweedS3

    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    yield server
    server.stop()


def _all_connections_returned(databases: list[Database], within: float = 10.0) -> None:
    """Before a test's databases go, every connection its apps took is back in its pool: a
    server thread still finishing an answer is waited for; one nobody closed fails the test
    that left it. Left out, it would be cut by the drop and reset later by the garbage
    collector, in the middle of another test (see core.db._OneLineReturns)."""
    pools = [engine.pool for database in databases for engine in (database.engine, database.autocommit)]
    deadline = time.monotonic() + within
    while out := sum(pool.checkedout() for pool in pools):
        if time.monotonic() > deadline:
            pytest.fail(f"{out} database connection(s) still checked out {within:.0f} s after the test ended")
        time.sleep(0.05)


@pytest.fixture
def make_app(data_dir: Path, monkeypatch, migrated_database, postgres):
    """Build an app on the test's data directory and database; environment variables cannot
    leak in. On PostgreSQL the test's database URL and a shared secret key are also put in
    the environment, so a server the test starts in a subprocess uses the same database."""
    for key in list(os.environ):
        if key.startswith("XIANGYIN_"):
            monkeypatch.delenv(key)
    apps = []
    databases: dict[tuple[bool, str], str] = {}

    def database_url(migrate: bool, folder: str) -> str:
        """One database per data directory, as one installation has one of each."""
        if (migrate, folder) not in databases:
            databases[migrate, folder] = postgres.create(template=migrated_database if migrate else None)
        return postgres.url(databases[migrate, folder])

    def factory(migrate: bool = True, clock=None, **config):
        copied = False
        if "DATABASE_URL" not in config and postgres is not None:
            config.update(DATABASE_URL=database_url(migrate, str(config.get("DATA_DIR", data_dir))),
                          SECRET_KEY="t" * 64)
            monkeypatch.setenv("XIANGYIN_DATABASE_URL", config["DATABASE_URL"])
            monkeypatch.setenv("XIANGYIN_SECRET_KEY", config["SECRET_KEY"])
            copied = migrate
        elif "DATABASE_URL" not in config or (postgres is None and config["DATABASE_URL"].startswith("sqlite:///")):
            named = config.get("DATABASE_URL", "").removeprefix("sqlite:///")
            target = Path(named) if named else Path(config.get("DATA_DIR", data_dir)) / DATABASE_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            copied = migrate and not target.exists()
            if copied:
                shutil.copyfile(migrated_database, target)
        app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, **config}, clock=clock)
        app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
        if migrate and not copied:
            app.extensions["xiangyin.db"].upgrade()
        apps.append(app)
        return app

    yield factory
    _all_connections_returned([app.extensions["xiangyin.db"] for app in apps])
    for app in apps:
        app.extensions["xiangyin.db"].dispose()
    for name in databases.values():
        postgres.drop(name)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def db(app):
    with app.extensions["xiangyin.db"].session() as session:
        yield session


@pytest.fixture
def anonymous(app) -> Client:
    return Client(app.test_client())


@pytest.fixture
def admin(app) -> Client:
    add_user(app, "admin1", "admin")
    client = Client(app.test_client())
    assert client.login("admin1").status_code == 302
    return client


@pytest.fixture
def volunteer(app) -> Client:
    add_user(app, "vol1", "volunteer")
    client = Client(app.test_client())
    assert client.login("vol1").status_code == 302
    return client


@pytest.fixture
def world(app, data_dir):
    """An admin, a volunteer paired with one member, another volunteer, and the member's pack,
    visit (with a voice note), pack job and door card: everything a permission can be about."""
    admin_user = add_user(app, "boss", "admin")
    paired_user = add_user(app, "paired", "volunteer")
    add_user(app, "other", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        from core.lessons import add_lesson

        member = Member(name=WORLD_MEMBER, phone="13800000001", group_name="幸福里")
        series = Series(title="学习专题")
        session.add_all([member, series])
        session.flush()
        add_lesson(session, series, "学习党章", "认真学习党章。")
        session.add(Pairing(member_id=member.id, user_id=paired_user.id))
        pack = Pack(uuid=str(uuid.uuid4()), title="学习包", voice_id="offline-mandarin", member_id=member.id,
                    created_by_id=paired_user.id, target="zip", lesson_count=0, total_duration=0.0, total_size=0,
                    manifest="{}")
        session.add(pack)
        (data_dir / "packs").mkdir()
        (data_dir / "packs" / f"{pack.uuid}.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
        (data_dir / "voice_notes").mkdir()
        (data_dir / "voice_notes" / "note.webm").write_bytes(b"\x1a\x45\xdf\xa3")
        visit = Visit(client_key=str(uuid.uuid4()), member_id=member.id, volunteer_id=paired_user.id,
                      visited_at=datetime.now(UTC), voice_note_path="note.webm")
        job = Job(kind="pack_build", payload=json.dumps({"user_id": paired_user.id}), status="done",
                  message=f"学习包已写好（{WORLD_MEMBER}）")
        session.add_all([visit, job])
        session.flush()
        issue_card(session, member, None)
        (data_dir / "voice_notes" / "answer.mp3").write_bytes(b"ID3")
        answer = QuestionAnswer(lesson_id=series.lessons[0].id, visit_id=visit.id, member_id=member.id,
                                question="党章是什么？", voice_path="answer.mp3", created_at=datetime.now(UTC))
        session.add(answer)
        session.commit()
        ids = {"member_id": member.id, "pack_uuid": pack.uuid, "visit_id": visit.id, "job_id": job.id,
               "series_id": session.scalar(select(Series.id)), "answer_id": answer.id}

    def login(username: str) -> Client:
        client = Client(app.test_client())
        assert client.login(username).status_code == 302
        return client

    def door_token() -> str:
        with app.extensions["xiangyin.db"].session() as session:
            return session.scalar(select(DoorCard.token).where(DoorCard.revoked_at.is_(None)))

    return {"ids": ids, "admin": login("boss"), "paired": login("paired"), "other": login("other"),
            "anonymous": Client(app.test_client()), "door_token": door_token, "admin_id": admin_user.id}


@pytest.fixture
def listening(make_app):
    """Two lessons rendered in two voices, with a lesson code, a personal card and a series code."""
    from core.models import Lesson, Rendition
    from core.sharing import share_for
    from tests.helpers.listening import rendered_series

    app = make_app(HEARTBEAT_SESSION_BURST=100)
    ids = rendered_series(app, voices=("offline-mandarin", "offline-cantonese"))
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, ids["lessons"][0])
        ids["lesson_token"] = share_for(session, lesson=lesson).token
        ids["personal_token"] = share_for(session, lesson=lesson, member=session.get(Member, ids["member"])).token
        ids["series_token"] = share_for(session, series=session.get(Series, ids["series"])).token
        ids["files"] = {r.id: settings_of(app).data_dir / "audio" / r.file_path
                        for r in session.scalars(select(Rendition))}
        session.commit()
    return app, ids


@pytest.fixture
def tracks(app, db):
    """A lesson with three finished renditions (60 s each), a printed general code and a
    member's personal card: what the counting tests listen to."""
    series = create_series(db, "规则", actor=None)
    lesson = add_lesson(db, series, "第一课", "内容。")
    renditions = []
    for voice in ("offline-mandarin", "offline-cantonese", "mandarin-xiaoxiao"):
        rendition = Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", status="done", duration=60.0,
                              voice_id=voice, file_path="aa/x.mp3", sha256="a" * 64)
        db.add(rendition)
        renditions.append(rendition)
    member = Member(name="王秀英")
    db.add(member)
    db.flush()
    general = share_for(db, lesson=lesson)
    personal = share_for(db, lesson=lesson, member=member)
    db.commit()
    return renditions, general, personal

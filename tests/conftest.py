"""Fixtures: every test gets its own data directory and a migrated SQLite file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from core.models import User
from core.users import create_user

PASSWORD = "correct-horse-42"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def make_app(data_dir: Path, monkeypatch):
    """Build an app on the test's data directory; environment variables cannot leak in."""
    for key in list(__import__("os").environ):
        if key.startswith("XIANGYIN_"):
            monkeypatch.delenv(key)
    apps = []

    def factory(migrate: bool = True, **config):
        app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, **config})
        if migrate:
            app.extensions["xiangyin.db"].upgrade()
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["xiangyin.db"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def db(app):
    with app.extensions["xiangyin.db"].session() as session:
        yield session


def add_user(app, username: str, role: str) -> User:
    with app.extensions["xiangyin.db"].session() as session:
        user, _ = create_user(session, username, role, display_name=username.title(), password=PASSWORD)
        session.commit()
        return user


class Client:
    """A test client that logs in and sends the CSRF token the way a browser form would."""

    def __init__(self, flask_client) -> None:
        self.http = flask_client
        self._token: str | None = None

    def get(self, url: str, **kwargs):
        return self.http.get(url, **kwargs)

    def token(self) -> str:
        if self._token is None:
            page = self.http.get("/login" if not self.logged_in else "/").get_data(as_text=True)
            self._token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return self._token

    logged_in = False

    def post(self, url: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token())
        return self.http.post(url, data=data, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        response = self.post("/login", {"username": username, "password": password})
        self.logged_in = response.status_code == 302
        return response


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


def page_text(response) -> str:
    """Visible text of a page, tags stripped, whitespace collapsed: assertions read like a user."""
    html = response.get_data(as_text=True)
    html = re.sub(r"(?s)<(script|style).*?</\1>", " ", html)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"))

"""Talking to the app as a logged-in user does: accounts, a client that sends CSRF tokens,
and the visible text of a page."""
from __future__ import annotations

import re

from core.models import User
from core.users import create_user

PASSWORD = "correct-horse-42"


def add_user(app, username: str, role: str) -> User:
    with app.extensions["xiangyin.db"].session() as session:
        user, _ = create_user(session, username, role, display_name=username.title(), password=PASSWORD, actor=None)
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


def page_text(response) -> str:
    """Visible text of a page, tags stripped, whitespace collapsed: assertions read like a user."""
    html = response.get_data(as_text=True)
    html = re.sub(r"(?s)<(script|style).*?</\1>", " ", html)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"))


def reconfigure(app, **changes) -> None:
    """Change some settings of a running test app (settings are frozen: the app gets a copy)."""
    from app import settings_of

    app.extensions["xiangyin.settings"] = settings_of(app).but(**changes)

"""NUL and the other control characters never reach the database, whatever field they are
typed into: every form the admin's and a volunteer's pages show is sent back with them in
every field, the public JSON endpoints too, and the whole database is then searched. On
PostgreSQL (which refuses NUL in text) the same run must answer no 5xx."""
from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import String, Text, select

from core.db import Base
from core.lessons import add_lesson, create_series
from core.models import Member, Pairing, User
from core.sharing import share_for
from tests.helpers.web import Client, add_user

pytestmark = pytest.mark.slow

ODD = "名\x00字\x01\x07\x1b[31m\x7f尾"
CLEANED = "名字[31m尾"


class Forms(HTMLParser):
    """The forms of a page: (action, method, {field name: value}) with their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", (attrs.get("method") or "get").lower(), {}))
        elif tag in ("input", "textarea", "select") and self.forms and attrs.get("name"):
            if attrs.get("type") in ("file", "submit", "button", "checkbox", "radio"):
                return
            self.forms[-1][2][attrs["name"]] = attrs.get("value") or ""


@pytest.fixture
def site(app):
    add_user(app, "boss", "admin")
    add_user(app, "vol", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习", actor=None)
        lesson = add_lesson(session, series, "第一课", "内容。")
        member = Member(name="王秀英")
        session.add(member)
        session.flush()
        vol = session.scalars(select(User).where(User.username == "vol")).one()
        session.add(Pairing(member_id=member.id, user_id=vol.id))
        card = share_for(session, lesson=lesson, member=member).token
        session.commit()
        ids = {"series": series.id, "lesson": lesson.id, "member": member.id, "card": card}
    admin, volunteer = Client(app.test_client()), Client(app.test_client())
    assert admin.login("boss").status_code == 302 and volunteer.login("vol").status_code == 302
    return app, admin, volunteer, ids


PAGES = ["/", "/series/new", "/series/{series}", "/series/{series}/settings", "/lessons/{lesson}",
         "/lessons/{lesson}/edit", "/members", "/members/new", "/members/{member}", "/members/{member}/edit",
         "/lexicon", "/lexicon/new", "/users", "/users/new", "/packs/new", "/visits/new/{member}", "/messages",
         "/account/password"]


def _stored_strings_with_controls(app) -> list[tuple[str, str]]:
    found = []
    with app.extensions["xiangyin.db"].session() as session:
        for table in Base.metadata.sorted_tables:
            columns = [column for column in table.columns if isinstance(column.type, (String, Text))]
            for row in session.execute(select(*columns)) if columns else ():
                for column, value in zip(columns, row):
                    if isinstance(value, str) and re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
                        found.append((f"{table.name}.{column.name}", value))
    return found


def test_every_form_field_drops_control_characters(site):
    app, admin, volunteer, ids = site
    sent, failures = 0, []
    for client in (admin, volunteer):
        for page in PAGES:
            response = client.get(page.format(**ids))
            if response.status_code != 200:
                continue
            parser = Forms()
            parser.feed(response.get_data(as_text=True))
            for action, method, fields in parser.forms:
                if method != "post" or not fields or "logout" in action or "delete" in action:
                    continue
                target = action or page.format(**ids)
                for name in fields:
                    if name == "csrf_token":
                        continue
                    data = {key: value for key, value in fields.items() if key != "csrf_token"}
                    data[name] = ODD
                    if name in ("client_key",):
                        data[name] = str(uuid.uuid4()) + "\x00"
                    answer = client.post(target, data)
                    sent += 1
                    if answer.status_code >= 500:
                        failures.append((target, name, answer.status_code))
    public = Client(app.test_client())
    assert public.get(f"/l/{ids['card']}").status_code == 200
    for path, body in ((f"/l/{ids['card']}/message", {"client_id": "msg-0000\x0001", "text": ODD}),
                       ("/listen/offline", None), ("/listen/beat", None)):
        if body is not None:
            answer = public.http.post(path, data=body, headers={"Accept": "application/json"})
        else:
            payload = {"t": ids["card"] + "\x00", "r": 1, "e": "play\x00", "d": 0, "p": 0,
                       "items": [{"t": ODD, "r": 1, "s": 10, "at": "2026-12-01T10:00:00\x00"}]}
            answer = public.http.post(path, data=json.dumps(payload), content_type="text/plain")
        sent += 1
        if answer.status_code >= 500:
            failures.append((path, "json", answer.status_code))
    answer = public.http.get(f"/l/{ids['card']}%00x")
    assert answer.status_code < 500
    assert sent > 40 and not failures, failures
    assert _stored_strings_with_controls(app) == []


def test_a_typed_message_keeps_its_words_without_the_controls(site):
    app, _, _, ids = site
    public = Client(app.test_client())
    assert public.get(f"/l/{ids['card']}").status_code == 200
    answer = public.http.post(f"/l/{ids['card']}/message", data={"client_id": "msg-00000001", "text": ODD},
                              headers={"Accept": "application/json"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    from core.models import ListenerMessage

    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalars(select(ListenerMessage.text)).one() == CLEANED


def test_spreadsheets_and_the_command_line_drop_control_characters(site, tmp_path):
    app, admin, _, _ = site
    import io

    roll = "姓名,电话,备注\n李\x00国华,13800000002,腿脚\x1b[31m不便\n".encode()
    uploaded = admin.post("/members/import", {"file": (io.BytesIO(roll), "名册.csv")}, content_type="multipart/form-data")
    assert uploaded.status_code == 303, uploaded.get_data(as_text=True)[:300]
    confirmed = admin.post(uploaded.headers["Location"], {"name": "0", "phone": "1", "notes": "2", "confirm": "1"})
    assert confirmed.status_code == 303
    from scripts.cli import cli

    result = app.test_cli_runner().invoke(cli, ["users", "create", "vol\x072", "--role", "volunteer",
                                                "--name", "张\x1b三"])
    assert result.exit_code == 0, result.output
    with app.extensions["xiangyin.db"].session() as session:
        member = session.scalars(select(Member).where(Member.phone == "13800000002")).one()
        assert (member.name, member.notes) == ("李国华", "腿脚[31m不便")
        user = session.scalars(select(User).where(User.username == "vol2")).one()
        assert user.display_name == "张三"
    assert _stored_strings_with_controls(app) == []

"""Every public page judged by axe-core (0 violations) in Debian's Chromium, and the lesson
and series pages by Lighthouse (accessibility 100): the people who scan these codes are 70 to
90 years old, and many listen with a screen reader or large text."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from core.models import Lesson, Member, Pairing, Series
from core.sharing import revoke, share_for
from core.visits import issue_card
from tests.helpers.accessibility import AXE, LIGHTHOUSE, axe_violations, need
from tests.helpers.browser import phone_page, serve
from tests.helpers.listening import rendered_series
from tests.helpers.tools import require_tool
from tests.helpers.web import PASSWORD, add_user

pytestmark = pytest.mark.browser

@pytest.fixture
def site(make_app):
    app = make_app()
    ids = rendered_series(app)
    volunteer = add_user(app, "vol1", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, ids["lessons"][0])
        member = session.get(Member, ids["member"])
        session.add(Pairing(member_id=member.id, user_id=volunteer.id))
        revoked = share_for(session, lesson=session.get(Lesson, ids["lessons"][1]))
        revoke(session, revoked)
        urls = {
            "lesson": f"/l/{share_for(session, lesson=lesson, member=member).token}",
            "series": f"/s/{share_for(session, series=session.get(Series, ids['series'])).token}",
            "revoked": f"/l/{revoked.token}",
            "not found": "/l/nosuchcode",
            "kept on this phone": "/listen/kept",
            "login": "/login",
            "door-card login": f"/d/{issue_card(session, member, None).token}",
        }
        session.commit()
        urls["visit form"] = f"/visits/new/{member.id}"
    return app, urls


def test_every_public_page_has_no_axe_violations(site):
    app, urls = site
    need(AXE)
    with serve(app) as base, phone_page(bypass_csp=True) as page:
        found = {}
        for name in ("lesson", "series", "revoked", "not found", "kept on this phone", "login", "door-card login"):
            page.goto(base + urls[name])
            found[name] = axe_violations(page)
        page.fill("input[name=username]", "vol1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_load_state()
        page.goto(base + urls["visit form"])
        found["visit form"] = axe_violations(page)
    assert found == {name: [] for name in found}


def answered_as_200(wsgi_app):
    """The same document with status 200: Lighthouse refuses to judge a 410 page."""
    def app(environ, start_response):
        return wsgi_app(environ, lambda status, headers, *rest: start_response(
            "200 OK" if status.startswith("410") else status, headers, *rest))
    return app


@pytest.mark.parametrize("name", ["lesson", "series", "revoked", "kept on this phone"])
def test_lighthouse_accessibility_is_100(site, name, tmp_path):
    app, urls = site
    lighthouse = need(LIGHTHOUSE)
    chromium = require_tool("chromium", "/usr/bin/chromium")
    if name == "revoked":
        app.wsgi_app = answered_as_200(app.wsgi_app)
    with serve(app) as base:
        report = tmp_path / "report.json"
        run = subprocess.run(
            [str(lighthouse), base + urls[name], "--only-categories=accessibility", "--output=json",
             f"--output-path={report}", "--quiet", "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
            env={**os.environ, "CHROME_PATH": chromium}, capture_output=True, text=True, timeout=240,
        )
        assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(report.read_text())
    failing = [audit["id"] for audit in result["audits"].values()
               if audit.get("scoreDisplayMode") == "binary" and audit.get("score") == 0]
    assert result["categories"]["accessibility"]["score"] == 1, failing

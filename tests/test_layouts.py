"""The pages volunteers and admins work in, at a phone's width and at an office screen's: no
sideways scrolling, no placeholder cut off, no table cell broken letter by letter (停/用,
有/效), and axe-core finds nothing."""
from __future__ import annotations

import pytest

from core.models import Lesson, Member, Pairing, Series
from core.sharing import revoke, share_for
from tests.helpers.accessibility import AXE, axe_violations, need
from tests.helpers.browser import serve
from tests.helpers.listening import rendered_series
from tests.helpers.messages import leave, phone
from tests.helpers.web import PASSWORD, add_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WIDTHS = (360, 390, 1366, 1440)

# Every text field's placeholder measured against the room the field gives it.
CUT_PLACEHOLDERS = """() => {
  const canvas = document.createElement('canvas').getContext('2d'), cut = [];
  for (const field of document.querySelectorAll('input[placeholder]')) {
    if (!field.offsetParent) continue;
    const style = getComputedStyle(field);
    canvas.font = style.font;
    const room = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (canvas.measureText(field.placeholder).width > room + 1) cut.push(field.name || field.id);
  }
  return cut;
}"""

# Cells whose words must stay on one line: each is a single line box tall.
BROKEN_CELLS = """() => [...document.querySelectorAll('#codes td.state, #codes td.row-actions button')]
  .filter(cell => cell.offsetParent)
  .filter(cell => { const range = document.createRange(); range.selectNodeContents(cell);
                    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                    return lines.size > 1; })
  .map(cell => cell.textContent.trim())"""


@pytest.fixture
def office(make_app):
    # A county's real address: the QR table's links are this long.
    app = make_app(PUBLIC_URL="https://xiangyin.xingfuli-shequ.dangjian.example.gov.cn")
    ids = rendered_series(app)
    admin = add_user(app, "boss", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, ids["lessons"][0])
        member = session.get(Member, ids["member"])
        session.add(Pairing(member_id=member.id, user_id=admin.id))
        personal = share_for(session, lesson=lesson, member=member).token
        share_for(session, series=session.get(Series, ids["series"]))
        revoke(session, share_for(session, lesson=session.get(Lesson, ids["lessons"][1])))
        session.commit()
    assert leave(phone(app, personal), personal, lesson=ids["lessons"][0], text="请问下次学习是什么时候？").status_code == 200
    return app, ids


def test_work_pages_fit_phone_and_office_screens(office):
    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import CHROMIUM_ARGS
    from tests.helpers.tools import require_tool

    app, ids = office
    need(AXE)
    pages = {"留言": "/messages", "二维码": f"/series/{ids['series']}/qr", "U 盘": "/packs/new",
             "办公室": "/packs/office", "走访": "/visits", "集中学习": "/groups",
             "台账": f"/members/{ids['member']}/ledger", "课程": f"/lessons/{ids['lessons'][0]}", "录音": "/studio"}
    problems: dict[str, object] = {}
    with serve(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_tool("chromium", "/usr/bin/chromium"),
                                             args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN",
                                              bypass_csp=True)
                page = context.new_page()
                page.goto(base + "/login")
                page.fill("input[name=username]", "boss")
                page.fill("input[name=password]", PASSWORD)
                page.click("button.primary")
                page.wait_for_load_state()
                for name, path in pages.items():
                    page.goto(base + path)
                    where = f"{name} @ {width}px"
                    if page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth + 1"):
                        problems[where + ": scrolls sideways"] = page.evaluate("document.scrollingElement.scrollWidth")
                    if cut := page.evaluate(CUT_PLACEHOLDERS):
                        problems[where + ": placeholder cut"] = cut
                    if broken := page.evaluate(BROKEN_CELLS):
                        problems[where + ": broken cells"] = broken
                    if width in (390, 1366) and (found := axe_violations(page)):
                        problems[where + ": axe"] = found
                context.close()
        finally:
            browser.close()
    assert problems == {}

"""One permission rule for everything that names a member, checked route by route.

The routes come from the app's url_map, so a new route that names a member, pack, visit,
card or job is tested as soon as it exists (or fails here until it is given a value)."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import AuditEntry
from tests.conftest import WORLD_MEMBER as NAME
from tests.helpers.web import Client, page_text

# URL arguments that name something belonging to a member.
MEMBER_ARGS = {"member_id", "pack_uuid", "visit_id", "job_id", "token", "answer_id"}


def member_routes(app):
    for rule in app.url_map.iter_rules():
        arguments = set(rule.arguments)
        if not arguments & MEMBER_ARGS:
            continue
        if rule.endpoint.startswith("listen.") or rule.endpoint in ("members.import_preview", "library.upload_confirm"):
            continue  # public listen codes (test_listen.py) and staged uploads (admins only)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def url_for_rule(rule, world) -> str:
    values = dict(world["ids"])
    values["token"] = world["door_token"]()
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule} names {missing}: give it a value in this test"
    url = rule.rule
    for name in rule.arguments:
        url = url.replace(f"<{name}>", str(values[name])).replace(f"<int:{name}>", str(values[name]))
    return url


def call(client: Client, method: str, url: str):
    return client.get(url) if method == "GET" else client.post(url, {})


def test_every_route_that_names_a_member_follows_the_pairing_rule(app, world):
    routes = list(member_routes(app))
    assert len(routes) >= 10, routes
    for rule, method in routes:
        url = url_for_rule(rule, world)
        anonymous = call(world["anonymous"], method, url)
        assert anonymous.status_code in (302, 400), (url, method, anonymous.status_code)
        assert NAME not in anonymous.get_data(as_text=True)

        other = call(world["other"], method, url)
        body = other.get_data(as_text=True)
        assert NAME not in body, (url, method)
        if rule.endpoint == "visits.door" and method == "POST":
            assert other.status_code == 303  # the explicit stand-in choice, audited below
        else:
            assert other.status_code in (403, 404), (url, method, other.status_code)

        paired = call(world["paired"], method, url)
        admin_only = paired.status_code == 403 and "只有管理员" in page_text(paired)
        assert paired.status_code < 500 and paired.status_code != 404 and (paired.status_code != 403 or admin_only), \
            (url, method, paired.status_code, page_text(paired)[:200])

        admin = call(world["admin"], method, url)
        assert admin.status_code not in (403, 404) and admin.status_code < 500, (url, method, admin.status_code)
    with app.extensions["xiangyin.db"].session() as session:
        stand_ins = session.scalars(select(AuditEntry.summary).where(AuditEntry.action == "stand_in")).all()
        assert stand_ins and "代结对志愿者上门" in stand_ins[0]


def test_lists_and_forms_offer_only_paired_members(app, world):
    other, paired = world["other"], world["paired"]
    member_id, series_id = world["ids"]["member_id"], world["ids"]["series_id"]
    for url in ("/members/", "/packs/", "/packs/new", f"/series/{series_id}/qr", "/visits", "/"):
        assert NAME not in other.get(url).get_data(as_text=True), url
    assert NAME in paired.get("/packs/new").get_data(as_text=True)
    assert NAME in paired.get(f"/series/{series_id}/qr").get_data(as_text=True)
    assert NAME in paired.get("/packs/").get_data(as_text=True)
    card = other.post(f"/series/{series_id}/qr.pdf", {"layout": "cards", "members": str(member_id)})
    assert card.status_code == 404 and NAME not in card.get_data(as_text=True)
    built = other.post("/packs/new", {"series": str(series_id), "member": str(member_id)})
    assert built.status_code == 404 and NAME not in built.get_data(as_text=True)


def test_a_stand_in_visit_is_recorded_as_such(app, world):
    other = world["other"]
    token = world["door_token"]()
    asked = other.get(f"/d/{token}")
    assert asked.status_code == 403 and "登记代访" in page_text(asked) and NAME not in page_text(asked)
    chosen = other.post(f"/d/{token}")
    assert chosen.status_code == 303
    form = other.get(chosen.headers["Location"])
    assert form.status_code == 200 and NAME in page_text(form)
    location = chosen.headers["Location"]
    scan_id = int(location.split("scan=")[1])
    sent = other.post(location.split("?")[0], {"client_key": str(uuid.uuid4()), "scan": str(scan_id),
                                              "delivered": "nothing", "feedback": "替小李来的"})
    assert sent.status_code == 303, page_text(sent)[:300]
    # The stand-in reaches this visit only, not the member's page or other forms.
    assert other.get(f"/members/{world['ids']['member_id']}").status_code == 404
    assert other.get(f"/visits/new/{world['ids']['member_id']}").status_code == 404
    timeline = page_text(world["admin"].get(f"/members/{world['ids']['member_id']}"))
    assert "代访" in timeline


def _text_of(response) -> str:
    """What a person would read in the answer: a page, JSON or CSV as text, a PDF through
    pdftotext, a spreadsheet cell by cell."""
    data = response.get_data()
    if data.startswith(b"%PDF"):
        import subprocess

        from tests.helpers.tools import require_tool

        return subprocess.run([require_tool("pdftotext"), "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode()
    if data.startswith(b"PK"):
        import io

        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True)
        except Exception:  # a zip that is not a workbook (a pack): its bytes as they are
            return data.decode("utf-8", "replace")
        return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                         for cell in row if cell is not None)
    return data.decode("utf-8", "replace")


def test_no_list_shows_a_member_or_a_card_of_another_volunteer(app, world):
    """Every page without a member in its address, read as another volunteer: the member's
    name and the token of their personal card (which plays and leaves messages as them) are
    nowhere — in pages, JSON, CSV, spreadsheets or PDFs."""
    from core.models import Lesson, ListenerMessage, ListenSession, Member
    from core.sharing import share_for

    with app.extensions["xiangyin.db"].session() as session:
        member = session.scalars(select(Member)).one()
        lesson = session.scalars(select(Lesson)).first()
        token = share_for(session, lesson=lesson, member=member).token
        series_card = share_for(session, series=lesson.series, member=member).token
        phone = ListenSession(sid="p" * 32, share_token_id=None)
        session.add(phone)
        session.flush()
        session.add(ListenerMessage(session_id=phone.id, client_id="msg-00000001", member_id=member.id,
                                    lesson_id=lesson.id, text="我想再听一遍", created_at=lesson.series.created_at))
        session.commit()
        values = {"series_id": lesson.series_id, "lesson_id": lesson.id}
    seen, checked = [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint.startswith(("listen.", "static")) or \
                set(rule.arguments) & MEMBER_ARGS or set(rule.arguments) - set(values):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = url.replace(f"<int:{name}>", str(values[name])).replace(f"<{name}>", str(values[name]))
        for who in ("other", "paired"):
            response = world[who].get(url)
            text = _text_of(response) if response.status_code == 200 else ""
            found = [secret for secret in (NAME, token, series_card) if secret in text]
            if who == "other" and found:
                seen.append((url, found))
            if who == "paired" and rule.endpoint == "qr.series_codes":
                assert token in text and NAME in text, "the paired volunteer still sees the card"
        checked += 1
    printed = world["other"].post(f"/series/{values['series_id']}/qr.pdf", {"layout": "cards"})
    assert printed.status_code == 200 and NAME not in _text_of(printed)
    assert checked > 20 and not seen, seen

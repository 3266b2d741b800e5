"""Door-card scans, the visit form, the visits overview and the audit log."""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from audio.intake import Taken
from core.access import load_volunteers, member_for
from core.audit import recent
from core.clock import local
from core.db import MAX_ID, utcnow
from core.intake import discard
from core.models import DELIVERED, DoorScan, Series, User, Visit
from core.questions import MAX_VISIT_ANSWERS, keep_voice_answers, questions_for_visit
from core.reports.visits import (
    parse_quarter,
    quarter_bounds,
    quarter_start,
    reach,
    visits_between,
    visits_per_volunteer,
    visits_xlsx,
)
from core.storage import note_key
from core.visits import (
    MAX_VOICE_NOTE_BYTES,
    StandInNeeded,
    VisitError,
    VisitInput,
    keep_voice_note,
    member_for_visit,
    packs_for,
    parse_local,
    record_visit,
    scan,
    take_voice_note,
)
from web import download, session, settings
from web.auth import admin_required
from web.errors import refill, status_for, wants_json
from web.stored import send_stored

# Rows a list on the overview shows; a county's roll has thousands overdue at once, and the
# most overdue come first (the full list is the member roll, filtered).
SHOWN = 200

bp = Blueprint("visits", __name__)


def _user() -> User:
    return current_user._get_current_object()


@bp.route("/d/<token>", methods=["GET", "POST"])
def door(token: str):
    """A door card scanned by a logged-in volunteer (the login page brings them back here):
    the scan time is recorded now, before the form is even shown. A volunteer not paired
    with this member is asked, without being told who it is, whether to stand in (POST)."""
    try:
        door_scan = scan(session(), token, _user(), stand_in=request.method == "POST")
    except StandInNeeded as exc:
        return render_template("visits/stand_in.html", token=token, message=str(exc)), status_for(exc)
    session().commit()
    return redirect(url_for("visits.new", member_id=door_scan.member_id, scan=door_scan.id), 303)


def _form_context(member, door_scan, values=None):
    """The form, refilled with what was sent when it comes back with an error: nothing typed
    at the door is lost."""
    series = session().scalars(select(Series).order_by(Series.position, Series.id)).all()
    packs = packs_for(session(), member)
    chosen_lessons = set(values.getlist("lessons")) if values else set()
    if not values:
        pending = next((pack for pack in packs if pack.delivered_at is None), None)
        values = {"delivered": "pack", "pack": str(pending.id)} if pending else {}
    return dict(member=member, scan=door_scan, packs=packs, series=series,
                questions=questions_for_visit(session(), member),
                delivered=DELIVERED, values=values, chosen_lessons=chosen_lessons,
                client_key=values.get("client_key") or str(uuid.uuid4()),
                now_local=values.get("visited_at") or local(utcnow()).strftime("%Y-%m-%dT%H:%M"))


@bp.route("/visits/new/<int:member_id>", methods=["GET", "POST"])
def new(member_id: int):
    scan_id = request.values.get("scan", type=int)
    door_scan = session().get(DoorScan, scan_id) if scan_id and 0 < scan_id <= MAX_ID else None
    member = member_for_visit(session(), _user(), member_id, door_scan)
    if door_scan is not None and (door_scan.member_id != member.id or door_scan.user_id != current_user.id):
        abort(404)
    if request.method == "GET":
        used = session().scalar(select(Visit).where(Visit.scan_id == door_scan.id)) if door_scan else None
        if used is not None:
            return render_template("visits/used_scan.html", member=member, visit=used)
        return render_template("visits/form.html", **_form_context(member, door_scan))
    refill("visits/form.html", lambda: _form_context(member, door_scan, request.form))
    data = _visit_input(door_scan)
    voices: dict[int, Taken] = {}
    note = None
    try:
        note = _voice_note()
        voices = _voice_answers(data.voice_answers)
        visit, created = record_visit(session(), _user(), member, data)
        if created:
            if note is not None:
                keep_voice_note(settings(), visit, note)
            keep_voice_answers(session(), settings(), visit, voices)
        session().commit()
    finally:
        for taken in (note, *voices.values()):
            discard(taken)
    message = f"已登记对 {member.name} 的走访" if created else "这条走访之前已经收到了"
    if wants_json():
        return jsonify(ok=True, visit_id=visit.id, created=created, message=message)
    flash(message, "success")
    return redirect(url_for("members.detail", member_id=member.id), 303)


def _visit_input(door_scan) -> VisitInput:
    form = request.form
    try:
        duration = int(form["duration"]) if form.get("duration", "").strip() else None
        pack_id = int(form["pack"]) if form.get("pack", "").isdigit() else None
        lesson_ids = [int(i) for i in form.getlist("lessons")]
    except ValueError:
        raise VisitError("时长或课程填写有误") from None
    answers: dict[int, int | None] = {}
    voiced: list[int] = []
    for name in form:
        if name.startswith("q_") and name[2:].isdigit() and len(name) < 14 and form[name] != "skip":
            answers[int(name[2:])] = int(form[name]) if form[name].isdigit() and len(form[name]) < 3 else None
            if form[name] == "voice":
                voiced.append(int(name[2:]))
    return VisitInput(
        answers=answers, voice_answers=voiced,
        client_key=form.get("client_key", ""), scan_id=door_scan.id if door_scan else None,
        visited_at=parse_local(form["visited_at"]) if door_scan is None and form.get("visited_at") else None,
        delivered=form.get("delivered", "nothing"), pack_id=pack_id, lesson_ids=lesson_ids,
        duration_minutes=duration, feedback=form.get("feedback", ""), needs=form.get("needs", ""),
        follow_up=bool(form.get("follow_up")),
    )


def _voice_note():
    """The uploaded voice note decoded, before the visit is written (core.intake)."""
    upload = request.files.get("voice_note")
    if upload is None or not upload.filename:
        return None
    session().rollback()  # only reads so far: no transaction is held while the note decodes
    return take_voice_note(settings(), upload.read(MAX_VOICE_NOTE_BYTES + 1))


def _voice_answers(lessons: list[int]) -> dict[int, Taken]:
    """The member's spoken answers, one per question marked 录下回答, each decoded and checked
    before the visit is written; a question marked so without a recording is refused."""
    voices: dict[int, Taken] = {}
    try:
        for lesson_id in lessons[:MAX_VISIT_ANSWERS]:
            upload = request.files.get(f"qv_{lesson_id}")
            if upload is None or not upload.filename:
                raise VisitError("听后一问选了“录下回答”，但没有录音：请录一段，或选别的一项")
            session().rollback()  # no transaction is held while a recording decodes
            voices[lesson_id] = take_voice_note(settings(), upload.read(MAX_VOICE_NOTE_BYTES + 1), answer=True)
    except BaseException:
        for taken in voices.values():
            discard(taken)
        raise
    return voices


@bp.route("/visits/<int:visit_id>/voice")
def voice_note(visit_id: int):
    visit = session().get(Visit, visit_id) or abort(404)
    member_for(session(), _user(), visit.member_id)
    if not visit.voice_note_path:
        abort(404)
    return send_stored(note_key(visit.voice_note_path), mimetype="audio/mpeg")


@bp.route("/visits")
def overview():
    interval = settings().visit_interval_days
    weeks, months, per_volunteer = visits_per_volunteer(session()) if current_user.is_admin else ([], [], [])
    now = utcnow()
    recent_visits = list(visits_between(session(), _user(), now - timedelta(days=30), now + timedelta(days=1),
                                        newest_first=True, limit=50))
    reached = reach(session(), _user(), interval, limit=SHOWN)
    load_volunteers(session(), [o.member for o in reached.overdue] + [f.member for f in reached.first_due])
    return render_template(
        "visits/overview.html", reach=reached, interval=interval, quarter=local(quarter_start()),
        weeks=weeks, months=months, per_volunteer=per_volunteer, recent=recent_visits,
    )


@bp.route("/visits/export.xlsx")
@admin_required
def export():
    """One quarter's visits (this quarter unless ?quarter=2026Q3) for the quarterly review."""
    year, quarter = parse_quarter(request.args.get("quarter"))
    start, end = quarter_bounds(year, quarter)
    title = f"{year}年第{quarter}季度走访"
    return download(visits_xlsx(visits_between(session(), _user(), start, end), title), title + ".xlsx")


@bp.route("/audit")
@admin_required
def audit_log():
    return render_template("visits/audit.html", entries=recent(session(), limit=500))

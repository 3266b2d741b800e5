"""USB packs in the browser: choose lessons, voice and member; download the zip; see where
each pack went."""
from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from audio.pack import visible_drives
from core.access import job_for, member_for, pack_for, visible_members, visible_packs
from core.lessons import list_series
from core.packs import (
    RECORDING,
    lessons_by_number,
    lessons_for,
    mark_delivered,
    office_drive,
    pack_job_status,
    pack_zip_key,
    request_pack,
    waiting_for_office,
)
from core.storage import open_store
from web import session, settings, wake_runner
from web.errors import refill
from web.stored import send_stored

bp = Blueprint("packs", __name__, url_prefix="/packs")


def in_wechat() -> bool:
    """WeChat's own browser, which downloads no files: packs go to the office computer."""
    return "MicroMessenger" in request.user_agent.string


@bp.route("/")
def index():
    user = current_user._get_current_object()
    return render_template("packs/index.html", packs=visible_packs(session(), user),
                           office_count=len(waiting_for_office(session(), user)))


@bp.route("/office")
def office():
    """The office computer's list: packs sent here and waiting for an empty drive; on that
    computer, the drives it sees and which one the next pack goes to."""
    user = current_user._get_current_object()
    here = settings().usb_drives_here
    return render_template("packs/office.html", waiting=waiting_for_office(session(), user), here=here,
                           drives=visible_drives(settings().drive_globs) if here else [],
                           next_drive=office_drive(settings()) if here else None)


@bp.route("/<pack_uuid>/office", methods=["POST"])
def to_office(pack_uuid: str):
    """The same pack again, for the office computer to write (from a phone, or WeChat)."""
    user = current_user._get_current_object()
    pack = pack_for(session(), user, pack_uuid)
    lessons = lessons_for(session(), lesson_ids=[item.lesson_id for item in pack.items if item.lesson_id])
    job = request_pack(session(), settings(), lessons, pack.voice_id, user=user, member=pack.member, office=True)
    wake_runner()
    return redirect(url_for("packs.making", job_id=job.id), 303)


def _local_drives() -> list:
    """The server's drives, offered to admins on the computer the settings name as the one
    drives are plugged into (USB_DRIVES_HERE) — never because of the browser's address, which
    behind a proxy is the proxy's own."""
    if not (settings().usb_drives_here and current_user.is_admin):
        return []
    return visible_drives(settings().drive_globs)


@bp.route("/new", methods=["GET", "POST"])
def new():
    db_session = session()
    members = visible_members(db_session, current_user._get_current_object())
    drives = _local_drives()
    context = {"series_list": list_series(db_session), "members": members, "RECORDING": RECORDING, "form": request.form,
               "drives": drives, "in_wechat": in_wechat()}
    if request.method == "GET":
        return render_template("packs/new.html", **context)
    config = settings()
    voice = request.form.get("voice") or config.default_voice
    try:
        member_id = int(request.form.get("member") or 0)
        series_ids = [int(x) for x in request.form.getlist("series")]
        order = [int(x) for x in re.split(r"[,，、\s]+", request.form.get("order", "")[:500]) if x.strip()]
        picked = [int(x) for x in request.form.getlist("lesson")]
    except ValueError:
        return render_template("packs/new.html", error="顺序里只能写第几课的数字，用逗号隔开，如 3,1,2", **context), 400
    user = current_user._get_current_object()
    member = member_for(db_session, user, member_id) if member_id else None
    drive = request.form.get("drive") or None
    if drive is not None and drive not in [str(path) for path, _ in drives]:
        return render_template("packs/new.html", error="找不到这个 U 盘，请刷新页面后重新选择", **context), 400
    refill("packs/new.html", **context)
    if order:
        lessons = lessons_by_number(db_session, series_ids, order)
    else:
        lessons = lessons_for(db_session, series_ids=series_ids, lesson_ids=picked)
    office = drive is None and (request.form.get("delivery") == "office" or in_wechat())
    job = request_pack(db_session, config, lessons, voice, user=user, member=member, drive=drive,
                       replace=bool(request.form.get("replace")), greeting=bool(request.form.get("greeting")),
                       series_intros=bool(request.form.get("series_intros")), office=office)
    wake_runner()
    return redirect(url_for("packs.making", job_id=job.id), 303)


@bp.route("/making/<int:job_id>")
def making(job_id: int):
    """The one page a pack request leads to: a bar from the first render to the last file;
    when it is done the page moves on by itself (the download starts, or the drive is ready)."""
    db_session = session()
    job = job_for(db_session, current_user._get_current_object(), job_id)
    status = pack_job_status(db_session, job)
    if status["pack"] and status["target"] == "zip":
        return redirect(url_for("packs.detail", pack_uuid=status["pack"], fresh=1), 303)
    return render_template("packs/making.html", job=job, status=status)


@bp.route("/making/<int:job_id>.json")
def making_status(job_id: int):
    db_session = session()
    status = pack_job_status(db_session, job_for(db_session, current_user._get_current_object(), job_id))
    if status["pack"]:
        status["next"] = url_for("packs.detail", pack_uuid=status["pack"], fresh=1)
    return jsonify(status)


@bp.route("/<pack_uuid>")
def detail(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    return render_template("packs/detail.html", pack=pack,
                           zip_ready=open_store(settings()).size(pack_zip_key(pack.uuid)) is not None,
                           fresh=bool(request.args.get("fresh")), in_wechat=in_wechat())


@bp.route("/<pack_uuid>/delivered", methods=["POST"])
def delivered(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    mark_delivered(session(), pack, current_user._get_current_object(), request.form.get("note", ""))
    session().commit()
    flash("已记录：学习包已送到", "success")
    return redirect(url_for("packs.detail", pack_uuid=pack.uuid), 303)


@bp.route("/<pack_uuid>.zip")
def download(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    if open_store(settings()).size(pack_zip_key(pack.uuid)) is None:
        abort(404, "这个学习包是直接写到 U 盘或镜像的，没有保存下载文件")
    name = f"{pack.title}{'（' + pack.member.name + '）' if pack.member else ''}.zip"
    return send_stored(pack_zip_key(pack.uuid), mimetype="application/zip", download_name=name)

"""USB packs in the browser: choose lessons, voice and member; download the zip; see where
each pack went."""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from audio.usb import visible_drives, write_zip_file
from core.access import job_for, member_for, pack_for, visible_members, visible_packs
from core.jobs import enqueue
from core.lessons import list_series
from core.packs import (
    RECORDING,
    PackRequestError,
    check_voice,
    drive_globs,
    lessons_by_number,
    lessons_for,
    mark_delivered,
    missing_audio,
    plan_pack,
    record_pack,
    request_missing,
)
from web import session

bp = Blueprint("packs", __name__, url_prefix="/packs")


def _zip_path(pack_uuid: str) -> Path:
    return Path(current_app.config["DATA_DIR"]) / "packs" / f"{pack_uuid}.zip"


@bp.route("/")
def index():
    return render_template("packs/index.html", packs=visible_packs(session(), current_user._get_current_object()))


def _local_drives() -> list:
    """Drives are offered only when the browser runs on the server's own computer."""
    if request.remote_addr not in ("127.0.0.1", "::1"):
        return []
    return visible_drives(drive_globs(current_app.config))


@bp.route("/new", methods=["GET", "POST"])
def new():
    db_session = session()
    members = visible_members(db_session, current_user._get_current_object())
    drives = _local_drives()
    context = {"series_list": list_series(db_session), "members": members, "RECORDING": RECORDING, "form": request.form,
               "drives": drives}
    if request.method == "GET":
        return render_template("packs/new.html", **context)
    settings = dict(current_app.config)
    voice = request.form.get("voice") or settings["DEFAULT_VOICE"]
    try:
        member_id = int(request.form.get("member") or 0)
        series_ids = [int(x) for x in request.form.getlist("series")]
        order = [int(x) for x in re.split(r"[,，、\s]+", request.form.get("order", "")[:500]) if x.strip()]
        picked = [int(x) for x in request.form.getlist("lesson")]
    except ValueError:
        return render_template("packs/new.html", error="顺序里只能写第几课的数字，用逗号隔开，如 3,1,2", **context), 400
    member = member_for(db_session, current_user._get_current_object(), member_id) if member_id else None
    try:
        check_voice(voice)
        if order:
            lessons = lessons_by_number(db_session, series_ids, order)
        else:
            lessons = lessons_for(db_session, series_ids=series_ids, lesson_ids=picked)
        missing = missing_audio(db_session, lessons, voice)
        if missing:
            request_missing(db_session, lessons, voice, settings)
            runner = current_app.extensions.get("xiangyin.runner")
            if runner is not None:
                runner.wake()
            return render_template("packs/new.html", missing=missing, **context), 409
        if request.form.get("drive"):
            return _write_to_drive(lessons, voice, member, drives)
        plan = plan_pack(db_session, lessons, voice, settings, member=member, user=current_user._get_current_object(),
                         greeting=bool(request.form.get("greeting")),
                         series_intros=bool(request.form.get("series_intros")))
    except PackRequestError as exc:
        return render_template("packs/new.html", error=str(exc), **context), 400
    path = _zip_path(plan.uuid)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        manifest = write_zip_file(plan, path)
    except OSError:
        abort(503, "服务器磁盘空间不够，学习包没有做成。请联系管理员清理空间后再试。")
    pack = record_pack(db_session, plan, manifest, voice=voice, target="zip", member=member,
                       user=current_user._get_current_object())
    flash(f"学习包已做好：{pack.lesson_count} 课。点“下载”保存后复制到 U 盘。", "success")
    return redirect(url_for("packs.detail", pack_uuid=pack.uuid), 303)


def _write_to_drive(lessons, voice, member, drives):
    drive = request.form["drive"]
    if drive not in [str(path) for path, _ in drives]:
        abort(400, "找不到这个 U 盘，请刷新页面后重新选择")
    payload = {"lesson_ids": [lesson.id for lesson in lessons],
               "voice": voice, "member_id": member.id if member else None, "drive": drive,
               "greeting": bool(request.form.get("greeting")), "replace": bool(request.form.get("replace")),
               "series_intros": bool(request.form.get("series_intros")),
               "user_id": current_user.id}
    job = enqueue(session(), "pack_write", payload, active_key=f"drive:{drive}")
    runner = current_app.extensions.get("xiangyin.runner")
    if runner is not None:
        runner.wake()
    return redirect(url_for("packs.writing", job_id=job.id), 303)


@bp.route("/writing/<int:job_id>")
def writing(job_id: int):
    job = job_for(session(), current_user._get_current_object(), job_id)
    return render_template("packs/writing.html", job=job)


@bp.route("/<pack_uuid>")
def detail(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    return render_template("packs/detail.html", pack=pack, zip_ready=_zip_path(pack.uuid).is_file())


@bp.route("/<pack_uuid>/delivered", methods=["POST"])
def delivered(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    mark_delivered(session(), pack, current_user._get_current_object(), request.form.get("note", ""))
    flash("已记录：学习包已送到", "success")
    return redirect(url_for("packs.detail", pack_uuid=pack.uuid), 303)


@bp.route("/<pack_uuid>.zip")
def download(pack_uuid: str):
    pack = pack_for(session(), current_user._get_current_object(), pack_uuid)
    path = _zip_path(pack.uuid)
    if not path.is_file():
        abort(404, "这个学习包是直接写到 U 盘或镜像的，没有保存下载文件")
    name = f"{pack.title}{'（' + pack.member.name + '）' if pack.member else ''}.zip"
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)

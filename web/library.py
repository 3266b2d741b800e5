"""The lesson library: series, lessons, uploads. Volunteers read; admins change."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from core import lessons as library
from core.importer import Limits, Upload, human_size, inspect_batch, to_simplified
from core.models import Lesson, LessonVersion, Series
from core.questions import question_of, remove_question, set_question
from core.rendering import made_otherwise, regenerate, renditions_for, stood_in, superseded
from core.staging import AlreadyTaken, StagingArea
from web import session, settings, wake_runner
from web.auth import admin_required
from web.errors import refill

bp = Blueprint("library", __name__)


def _series_or_404(series_id: int) -> Series:
    return session().get(Series, series_id) or abort(404)


def _lesson_or_404(lesson_id: int) -> Lesson:
    return session().get(Lesson, lesson_id) or abort(404)


def _cpm() -> int:
    """The pace for estimates, measured once per request on the library's own audio."""
    if "xiangyin_pace" not in g:
        g.xiangyin_pace = library.listening_pace(session(), settings().chars_per_minute)
    return g.xiangyin_pace


def _seconds(text: str) -> int:
    return library.listening_seconds(text, _cpm())


bp.add_app_template_filter(library.char_count, "char_count")
bp.add_app_template_filter(_seconds, "listening_seconds")
bp.add_app_template_filter(human_size, "human_size")


@bp.route("/")
def index():
    """The home page. Whoever has members waiting for a visit sees that first."""
    from core.access import visible_members
    from core.reports.visits import overdue_members

    members = visible_members(session(), current_user._get_current_object())
    overdue = overdue_members(session(), members, settings().visit_interval_days)
    return render_template("library/index.html", series_list=library.list_series(session()), overdue=overdue)


@bp.route("/series/new", methods=["POST"])
@admin_required
def series_create():
    db_session = session()
    refill("library/index.html", series_list=lambda: library.list_series(db_session))
    series = library.create_series(db_session, request.form.get("title", ""), request.form.get("description", ""),
                                   actor=current_user._get_current_object())
    db_session.commit()
    flash(f"已创建专题「{series.title}」", "success")
    return redirect(url_for("library.series_detail", series_id=series.id), 303)


@bp.route("/series/<int:series_id>")
def series_detail(series_id: int):
    return render_template("library/series.html", series=_series_or_404(series_id))


@bp.route("/series/<int:series_id>/edit", methods=["POST"])
@admin_required
def series_edit(series_id: int):
    db_session = session()
    series = _series_or_404(series_id)
    refill("library/series.html", series=series)
    library.update_series(db_session, series, request.form.get("title", ""), request.form.get("description", ""),
                          actor=current_user._get_current_object())
    db_session.commit()
    flash("专题已保存", "success")
    return redirect(url_for("library.series_detail", series_id=series.id), 303)


@bp.route("/series/<int:series_id>/move", methods=["POST"])
@admin_required
def series_move(series_id: int):
    db_session = session()
    offset = -1 if request.form.get("direction") == "up" else 1
    series = _series_or_404(series_id)
    library.move_series(db_session, series, offset, actor=current_user._get_current_object())
    db_session.commit()
    return redirect(url_for("library.index"), 303)


@bp.route("/series/<int:series_id>/delete", methods=["POST"])
@admin_required
def series_delete(series_id: int):
    db_session = session()
    series = _series_or_404(series_id)
    if request.form.get("confirm_title", "").strip() != series.title:
        flash("删除专题需要输入完整的专题名称确认", "error")
        return redirect(url_for("library.series_detail", series_id=series.id), 303)
    title = series.title
    library.delete_series(db_session, series, current_user._get_current_object())
    db_session.commit()
    flash(f"已删除专题「{title}」及其全部课程", "success")
    return redirect(url_for("library.index"), 303)


# --------------------------------------------------------------------------- uploads


def _limits() -> Limits:
    return Limits.from_settings(settings())


def _staging() -> StagingArea:
    return StagingArea(settings().paths.staging)


@bp.route("/series/<int:series_id>/upload", methods=["POST"])
@admin_required
def upload(series_id: int):
    """Import every file at once when all are clean; otherwise keep them aside and show a
    review page: nothing is imported until the admin decides."""
    series = _series_or_404(series_id)
    files = [(f.filename or "未命名文件", f.read()) for f in request.files.getlist("files") if f.filename]
    if not files:
        return render_template("library/series.html", series=series, error="请先选择要上传的讲稿文件"), 400
    if len(files) > settings().max_upload_files:
        abort(413, f"一次最多上传 {settings().max_upload_files} 个文件，请打包成 .zip 或分批上传")
    simplify = bool(request.form.get("simplify"))
    title = request.form.get("title", "").strip() if len(files) == 1 else None
    uploads = inspect_batch(files, _limits(), simplify=simplify, title=title)
    plan = library.plan_import(session(), series, Upload.readable(uploads), settings().chars_per_minute)
    if all(u.status == "ok" for u in uploads) and plan.ready:
        return _import(series, plan)
    if all(u.status == "refused" for u in uploads):
        return _review(series, uploads, None, plan)  # nothing to come back to: nothing kept on disk
    token = _staging().save(files, {"series_id": series.id, "simplify": simplify, "title": title})
    return _review(series, uploads, token, plan)


def _review(series: Series, uploads, token: str | None, plan: library.ImportPlan, error: str | None = None):
    """What was found about each readable file (same text as a lesson, too long, a stated
    number that differs from its place) is shown beside it; duplicates start unticked."""
    by_script = plan.found()
    findings = [by_script.get(id(u.script), []) for u in uploads]
    status = 422 if error or any(u.status == "refused" for u in uploads) else 200
    return render_template("library/review.html", series=series, uploads=uploads, findings=findings, token=token,
                           error=error), status


def _import(series: Series, plan: library.ImportPlan):
    db_session = session()
    created = library.import_scripts(db_session, series, plan.scripts, current_user._get_current_object())
    db_session.commit()
    if not created:
        flash("没有导入任何文件", "info")
        return redirect(url_for("library.series_detail", series_id=series.id), 303)
    numbers = f"第 {created[0].number}–{created[-1].number} 课" if len(created) > 1 else f"第 {created[0].number} 课"
    flash(f"已导入 {len(created)} 个讲稿（{numbers}）", "success")
    for note in plan.notes():
        flash(note, "info")
    return redirect(url_for("library.series_detail", series_id=series.id), 303)


@bp.route("/series/<int:series_id>/upload/<token>", methods=["POST"])
@admin_required
def upload_confirm(series_id: int, token: str):
    series = _series_or_404(series_id)
    staged = _staging().load(token)
    if staged is None:
        if _staging().imported(token):
            flash("这批讲稿已经导入过了", "info")
        else:
            flash("这批上传已过期，请重新上传", "error")
        return redirect(url_for("library.series_detail", series_id=series.id), 303)
    files, meta = staged
    if meta.get("series_id") != series.id:
        abort(404)
    first_pass = inspect_batch(files, _limits(), simplify=meta["simplify"], title=meta["title"])
    encodings: dict[str, str] = {}
    chosen = set()
    for index, item in enumerate(first_pass):
        choice = request.form.get(f"enc-{index}", "")
        if item.status == "unsure" and choice and choice != "skip":
            encodings[item.filename] = choice
            chosen.add(index)
        if item.status == "ok" and request.form.get(f"include-{index}"):
            chosen.add(index)
    # Read again only when an encoding was chosen: the files are the same.
    uploads = inspect_batch(files, _limits(), encodings=encodings, simplify=meta["simplify"],
                            title=meta["title"]) if encodings else first_pass
    selected = [uploads[i] for i in sorted(chosen)]
    split = {uploads[i].filename for i in chosen if request.form.get(f"split-{i}")}
    failed = [u for u in selected if u.status != "ok"]
    if failed:
        plan = library.plan_import(session(), series, Upload.readable(uploads), settings().chars_per_minute,
                                   force=True)
        return _review(series, uploads, token, plan,
                       error="；".join(u.error or f"「{u.filename}」仍需选择编码" for u in failed))
    if not selected:
        _staging().discard(token)
        flash("没有导入任何文件", "info")
        return redirect(url_for("library.series_detail", series_id=series.id), 303)
    try:
        with _staging().claim(token):
            return _import(series, library.plan_import(session(), series, Upload.readable(selected),
                                                       settings().chars_per_minute, force=True, split=split))
    except AlreadyTaken:
        flash("这批讲稿已经导入过了", "info")
        return redirect(url_for("library.series_detail", series_id=series.id), 303)


# --------------------------------------------------------------------------- lessons


@bp.route("/series/<int:series_id>/lessons/new", methods=["GET", "POST"])
@admin_required
def lesson_new(series_id: int):
    series = _series_or_404(series_id)
    if request.method == "GET":
        return render_template("library/lesson_form.html", series=series, lesson=None, form={})
    db_session = session()
    title, text = request.form.get("title", ""), request.form.get("text", "")
    if request.form.get("simplify"):
        title, text = to_simplified(title), to_simplified(text)
    refill("library/lesson_form.html", series=series, lesson=None)
    lesson = library.create_lesson(db_session, series, title, text, user=current_user._get_current_object())
    db_session.commit()
    flash(f"已添加第 {lesson.number} 课", "success")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id), 303)


@bp.route("/lessons/estimate", methods=["POST"])
@admin_required
def estimate():
    """The editor's count and listening time, from the same functions as the lesson page."""
    text = request.form.get("text", "")
    if len(text) > settings().max_script_bytes:
        abort(413)
    seconds = _seconds(text)
    return jsonify(chars=library.char_count(text), seconds=seconds, length=library.format_duration(seconds))


def _lesson_page(lesson) -> dict:
    renditions = renditions_for(session(), lesson)
    gone = superseded(renditions)
    return {"lesson": lesson, "series": lesson.series, "renditions": renditions, "superseded": gone,
            "stand_ins": {r.id for r in renditions if stood_in(r) and r.render_key and r.id not in gone},
            "made_otherwise": made_otherwise(lesson, renditions),
            "question": question_of(session(), lesson)}


@bp.route("/lessons/<int:lesson_id>")
def lesson_detail(lesson_id: int):
    return render_template("library/lesson.html", **_lesson_page(_lesson_or_404(lesson_id)))


@bp.route("/lessons/<int:lesson_id>/question", methods=["POST"])
@admin_required
def lesson_question(lesson_id: int):
    """听后一问 set, changed or removed; the lesson's synthetic audio is asked for again, since
    it speaks the question."""
    lesson = _lesson_or_404(lesson_id)
    user = current_user._get_current_object()
    refill("library/lesson.html", lambda: _lesson_page(lesson))
    if request.form.get("remove"):
        remove_question(session(), lesson, user)
    else:
        set_question(session(), lesson, request.form.get("question", "")[:200],
                     [request.form.get(f"answer_{n}", "")[:100] for n in range(3)],
                     request.form.get("right", -1, type=int), user)
    session().commit()
    queued, refused = regenerate(session(), lesson, settings(), user)
    wake_runner()
    flash(("已去掉听后一问" if request.form.get("remove") else "已保存听后一问")
          + (f"，正在重新生成 {queued} 个声音的音频" if queued else "") + ("；" + "；".join(refused) if refused else ""),
          "success")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id) + "#question", 303)


@bp.route("/lessons/<int:lesson_id>/edit", methods=["GET", "POST"])
@admin_required
def lesson_edit(lesson_id: int):
    lesson = _lesson_or_404(lesson_id)
    if request.method == "GET":
        return render_template("library/lesson_form.html", series=lesson.series, lesson=lesson, form={})
    db_session = session()
    refill("library/lesson_form.html", series=lesson.series, lesson=lesson)
    changed = library.update_lesson(db_session, lesson, request.form.get("title", ""), request.form.get("text", ""),
                                    user=current_user._get_current_object(), simplify=bool(request.form.get("simplify")))
    db_session.commit()
    flash("已保存新版本" if changed else "内容没有变化", "success" if changed else "info")
    return redirect(url_for("library.lesson_detail", lesson_id=lesson.id), 303)


@bp.route("/lessons/<int:lesson_id>/versions/<int:version_id>")
def lesson_version(lesson_id: int, version_id: int):
    version = session().get(LessonVersion, version_id)
    if version is None or version.lesson_id != lesson_id:
        abort(404)
    return render_template("library/version.html", version=version, lesson=version.lesson)


@bp.route("/lessons/<int:lesson_id>/move", methods=["POST"])
@admin_required
def lesson_move(lesson_id: int):
    db_session = session()
    lesson = _lesson_or_404(lesson_id)
    direction = request.form.get("direction")
    if direction in {"up", "down"}:
        position = lesson.number + (-1 if direction == "up" else 1)
    else:
        try:
            position = int(request.form.get("position", ""))
        except ValueError:
            flash("请填写要移到的课号（数字）", "error")
            return redirect(url_for("library.series_detail", series_id=lesson.series_id), 303)
    library.move_lesson(db_session, lesson, position, actor=current_user._get_current_object())
    db_session.commit()
    return redirect(url_for("library.series_detail", series_id=lesson.series_id) + f"#lesson-{lesson.id}", 303)


@bp.route("/lessons/<int:lesson_id>/delete", methods=["POST"])
@admin_required
def lesson_delete(lesson_id: int):
    db_session = session()
    lesson = _lesson_or_404(lesson_id)
    series_id, title = lesson.series_id, lesson.title
    library.delete_lesson(db_session, lesson, current_user._get_current_object())
    db_session.commit()
    flash(f"已删除「{title}」，后面的课程已自动重新编号", "success")
    return redirect(url_for("library.series_detail", series_id=series_id), 303)

"""Packs from records: which lessons, which audio, for whom; and the record of each pack built."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audio.pack import Folder, Plan, Track, visible_drives
from audio.voices import UnknownVoice, get_voice
from core.access import NotVisible, may_see_member
from core.audit import Actor, audit
from core.clock import local
from core.db import utcnow
from core.errors import Forbidden, Invalid
from core.models import (
    ACTIVE,
    Job,
    Lesson,
    Member,
    MessageReply,
    Pack,
    PackItem,
    PackTarget,
    Rendition,
    RenditionKind,
    Series,
    Status,
    User,
)
from core.questions import question_of
from core.queue import OFFICE_QUEUE, JobCancelled, JobContext, JobFailed, chain_progress, enqueue, machine_queue
from core.rendering import current_version, request_render
from core.replies import carried_by, replies_for_pack
from core.settings import Settings
from core.storage import PACKS, Store, note_key, open_store, track_key
from core.voices import VoiceUnusable, require_usable, speaker_for

RECORDING = "recording"


class PackRequestError(Invalid):
    """A pack request that cannot be planned; str() is the Chinese message."""


def lessons_by_number(session: Session, series_ids: list[int], numbers: list[int]) -> list[Lesson]:
    """A hand-made order written the way the interface shows lessons: their numbers in one
    series (第3课, 第1课 …), checked against that series, so “1,2” never takes another's."""
    if len(series_ids) != 1:
        raise PackRequestError("按自己的顺序挑课时，请只勾选一个专题：顺序里的数字是这个专题的第几课")
    series = session.get(Series, series_ids[0])
    if series is None:
        raise PackRequestError(f"没有编号为 {series_ids[0]} 的专题")
    by_number = {lesson.number: lesson for lesson in series.lessons}
    missing = [str(n) for n in numbers if n not in by_number]
    if missing:
        raise PackRequestError(f"「{series.title}」没有第{'、'.join(missing)}课（共 {len(by_number)} 课）")
    return [by_number[n] for n in numbers]


def lessons_for(session: Session, *, series_ids: Sequence[int] = (), lesson_ids: Sequence[int] = ()) -> list[Lesson]:
    """Whole series in their order, or a hand-picked list in the order given."""
    if lesson_ids:
        found = {lesson.id: lesson for lesson in session.scalars(select(Lesson).where(Lesson.id.in_(lesson_ids)))}
        missing = [str(i) for i in lesson_ids if i not in found]
        if missing:
            raise PackRequestError(f"没有这些课程：{', '.join(missing)}")
        return [found[i] for i in lesson_ids]
    lessons: list[Lesson] = []
    for series_id in series_ids:
        series = session.get(Series, series_id)
        if series is None:
            raise PackRequestError(f"没有编号为 {series_id} 的专题")
        lessons.extend(series.lessons)
    if not lessons:
        raise PackRequestError("请至少选择一个专题或一课")
    return lessons


def rendition_for(session: Session, lesson: Lesson, voice: str) -> Rendition | None:
    """The finished audio of the lesson's current text in that voice (or the newest
    recording), whatever rate or intro settings it was made with."""
    version = current_version(session, lesson)
    query = select(Rendition).where(Rendition.lesson_version_id == version.id, Rendition.status == Status.DONE)
    if voice == RECORDING:
        query = query.where(Rendition.kind == RenditionKind.RECORDING)
    else:
        query = query.where(Rendition.kind == RenditionKind.TTS, Rendition.voice_id == voice)
    return session.scalars(query.order_by(Rendition.id.desc())).first()


def check_voice(voice: str) -> str:
    if voice == RECORDING:
        return "真人录音"
    try:
        return get_voice(voice).label
    except UnknownVoice as exc:
        raise PackRequestError(str(exc)) from None


def missing_audio(session: Session, lessons: list[Lesson], voice: str) -> list[Lesson]:
    return [lesson for lesson in lessons if rendition_for(session, lesson, voice) is None]


def request_missing(session: Session, lessons: list[Lesson], voice: str, settings: Settings) -> list[int]:
    """Queue renders for lessons without audio in this voice; returns the job ids."""
    if voice == RECORDING:
        raise PackRequestError("有些课还没有真人录音，请先上传录音或改用合成声音")
    try:
        require_usable(settings, get_voice(voice))
    except VoiceUnusable as exc:
        raise PackRequestError(str(exc)) from None
    jobs = []
    for lesson in missing_audio(session, lessons, voice):
        _, job = request_render(session, lesson, settings, voice_id=voice)
        if job is not None:
            jobs.append(job.id)
    return jobs


def plan_pack(
    session: Session,
    lessons: list[Lesson],
    voice: str,
    settings: Settings,
    files: ExitStack,
    *,
    member: Member | None = None,
    user: User | None = None,
    title: str | None = None,
    greeting: bool = False,
    series_intros: bool = False,
) -> Plan:
    """The pack as it will be written; every lesson must already have audio in `voice`. Its
    tracks are local copies `files` holds until the pack is written."""
    if member is not None and user is not None and not may_see_member(session, user, member.id):
        raise NotVisible()
    label = check_voice(voice)
    missing = missing_audio(session, lessons, voice)
    if missing:
        names = "、".join(lesson.label for lesson in missing[:5])
        raise PackRequestError(f"{len(missing)} 课还没有“{label}”的音频：{names}")
    store = open_store(settings)
    by_series: dict[int, list[Track]] = {}
    order: list[Series] = []
    for lesson in lessons:
        if lesson.series_id not in by_series:
            by_series[lesson.series_id] = []
            order.append(lesson.series)
        by_series[lesson.series_id].append(_track(session, store, files, lesson, rendition_for(session, lesson, voice)))
    several = len(order) > 1
    folders = []
    for series in order:
        sid = series.id
        intro = None
        if series_intros:
            text = series_intro_text(series, len(by_series[sid]))
            intro = spoken_track(settings, files, voice, text, "专题介绍", series.title)
        folders.append(Folder(series.title if several else None, tuple(by_series[sid]), intro))
    title = title or (order[0].title if not several else "学习包")
    now = local(utcnow())
    hello = None
    if greeting and member:
        hello = spoken_track(settings, files, voice, greeting_text(member, settings.org_name, title, len(lessons)),
                             "问候", title)
    answers = replies_for_pack(session, member) if member is not None else []
    return Plan(
        uuid=str(uuid.uuid4()),
        top=title if not member else f"{title}（{member.name}）",
        folders=folders,
        info={
            "title": title,
            "member": member.name if member else "",
            "member_id": member.id if member else None,
            "volunteer": user.display_name if user else "",
            "created_at": now.isoformat(timespec="seconds"),
            "voice": label,
            "organisation": settings.org_name,
            "replies": [reply.id for reply in answers],
        },
        greeting=hello,
        echo=echo_track(settings, files, answers, title) if answers else None,
    )


def _track(session: Session, store: Store, files: ExitStack, lesson: Lesson, rendition: Rendition | None) -> Track:
    if (rendition is None or rendition.file_path is None or rendition.sha256 is None or rendition.duration is None
            or rendition.size is None):
        raise PackRequestError(f"第{lesson.number}课 {lesson.title} 还没有音频")
    asked = question_of(session, lesson)
    return Track(files.enter_context(store.local_copy(track_key(rendition.file_path))), lesson.label, rendition.duration,
                 rendition.sha256, rendition.size, lesson.id, rendition.version.version_hash, rendition.label, asked.printed if asked else "")


def greeting_text(member: Member, organisation: str, title: str, count: int) -> str:
    return (f"{member.name}同志，您好！这是{organisation}为您准备的学习内容：{title}，共{count}课。"
            f"每一课开头都会先报课号。祝您身体健康！")


def spoken_track(settings: Settings, files: ExitStack, voice: str, text: str, title: str, album: str) -> Track:
    """A short spoken track (greeting, series introduction), mastered like every lesson and
    kept in the store; `files` holds its local copy while the pack is written."""
    from audio.master import Tags, master, track_items

    speaker_voice = settings.default_voice if voice == RECORDING else voice
    result = speaker_for(settings).render(text, speaker_voice, rate=settings.default_rate)
    store = open_store(settings)
    mastered = master(track_items(result.segments), store.scratch(".mp3"), Tags(title, album, settings.org_name, 0),
                      bitrate_kbps=settings.audio_bitrate)
    path = files.enter_context(store.local_copy(track_key(store.adopt_track(mastered.path, mastered.sha256))))
    return Track(path, title, mastered.duration, mastered.sha256, mastered.size, voice=result.voice.label)


def echo_track(settings: Settings, files: ExitStack, replies: list[MessageReply], album: str) -> Track:
    """回音: the replies to the member's messages, one after another, as the pack's first track
    (a member on a plug-in player has no other way to hear them)."""
    from audio.master import LEAD_IN_MS, PAUSE_MS, TAIL_MS, Clip, Gap, Item, Tags, master

    store = open_store(settings)
    items: list[Item] = [Gap(LEAD_IN_MS)]
    for index, reply in enumerate(replies):
        if index:
            items.append(Gap(PAUSE_MS["heading"]))
        items.append(Clip(files.enter_context(store.local_copy(note_key(reply.audio_path or ""))), "mp3"))
    items.append(Gap(TAIL_MS))
    mastered = master(items, store.scratch(".mp3"), Tags("回音", album, settings.org_name, 0),
                      bitrate_kbps=settings.audio_bitrate)
    path = files.enter_context(store.local_copy(track_key(store.adopt_track(mastered.path, mastered.sha256))))
    return Track(path, "回音", mastered.duration, mastered.sha256, mastered.size, voice="回复")


def series_intro_text(series: Series, count: int) -> str:
    about = f"{series.description.strip()}" if series.description.strip() else ""
    return f"下面是学习专题：{series.title}，共{count}课。{about}"


def record_pack(session: Session, plan: Plan, manifest: dict, *, voice: str, target: str, target_path: str = "",
                member: Member | None = None, user: Actor = None) -> Pack:
    """Keep what was built: who, for whom, which lessons and versions, when."""
    pack = Pack(
        uuid=plan.uuid, title=plan.info["title"], voice_id=voice, member=member,
        created_by_id=user.id if isinstance(user, User) else None,
        target=target, target_path=target_path, lesson_count=plan.lesson_count, total_duration=plan.total_duration,
        total_size=plan.total_size, manifest=json.dumps(manifest, ensure_ascii=False),
    )
    for position, (path, track) in enumerate(plan.files(), start=1):
        rendition = session.scalar(select(Rendition).where(Rendition.sha256 == track.sha256))
        pack.items.append(PackItem(
            position=position, path=path, title=track.title, lesson_id=track.lesson_id,
            lesson_version_id=rendition.lesson_version_id if rendition else None,
            rendition_id=rendition.id if rendition else None, sha256=track.sha256, size=track.size,
            duration=track.duration,
        ))
    session.add(pack)
    session.flush()
    carried_by(session, plan.info.get("replies", []), pack.id)
    audit(session, user, "create", "pack", pack.id, f"制作学习包《{pack.title}》，{pack.lesson_count} 课，{target}")
    return pack


def mark_delivered(session: Session, pack: Pack, user: User | None, note: str = "") -> None:
    """The volunteer handed the pack over; a later visit record can point at this pack."""
    if user is not None and not may_see_member(session, user, pack.member_id):
        raise NotVisible("找不到这个学习包")
    pack.delivered_at, pack.delivered_by_id, pack.delivery_note = utcnow(), user.id if user else None, note.strip()[:500]
    audit(session, user, "deliver", "pack", pack.id, f"学习包《{pack.title}》已送到")


def list_packs(session: Session) -> list[Pack]:
    return list(session.scalars(select(Pack).order_by(Pack.id.desc())))


def pack_zip_key(pack_uuid: str) -> str:
    return f"{PACKS}/{pack_uuid}.zip"


def request_pack(
    session: Session,
    settings: Settings,
    lessons: list[Lesson],
    voice: str,
    *,
    user: User,
    member: Member | None = None,
    drive: str | None = None,
    replace: bool = False,
    greeting: bool = False,
    series_intros: bool = False,
    office: bool = False,
) -> Job:
    """Queue a pack as one chain: renders for the lessons still without audio in this voice,
    then the pack, which starts by itself when they end. The volunteer asks once. `office`:
    written onto the next empty drive plugged into the office computer (a phone has no USB
    drive, and WeChat's browser downloads nothing)."""
    if member is not None and not may_see_member(session, user, member.id):
        raise NotVisible()
    if drive is not None and not (settings.usb_drives_here and user.is_admin):
        raise Forbidden("只有管理员在插 U 盘的那台电脑（设置 USB_DRIVES_HERE）上才能直接写 U 盘；请下载压缩包")
    check_voice(voice)
    renders = request_missing(session, lessons, voice, settings) if missing_audio(session, lessons, voice) else []
    payload = {"lesson_ids": [lesson.id for lesson in lessons], "voice": voice,
               "member_id": member.id if member else None, "user_id": user.id, "drive": drive,
               "replace": replace, "greeting": greeting, "series_intros": series_intros, "office": office}
    key = f"drive:{drive}" if drive else f"pack:{uuid.uuid4()}"
    # The drive is in this computer: only a worker here can write it; a pack for the office
    # waits for the office computer and an empty drive there.
    return enqueue(session, "pack_build", payload, active_key=key, waits_for=renders,
                   queue=machine_queue() if drive else OFFICE_QUEUE if office else "")


def office_drive(settings: Settings) -> Path | None:
    """The first empty drive plugged into this computer: where the next pack sent to the
    office goes. A drive with anything on it is never written unasked."""
    from audio.pack import DirectoryTarget
    from audio.pack.plan import SYSTEM_ENTRIES

    for path, _ in visible_drives(settings.drive_globs):
        names = DirectoryTarget(path).listdir("")
        if not [name for name in names if name not in SYSTEM_ENTRIES and not name.startswith(".")]:
            return path
    return None


def waiting_for_office(session: Session, user: User) -> list[tuple[Job, str]]:
    """Packs sent to the office computer and not written yet, oldest first, each with what it
    is (title and member): the office page's list. Volunteers see their own."""
    query = select(Job).where(Job.kind == "pack_build", Job.queue == OFFICE_QUEUE, Job.status.in_(ACTIVE))
    jobs = [job for job in session.scalars(query.order_by(Job.id))
            if user.is_admin or json.loads(job.payload).get("user_id") == user.id]
    return [(job, pack_label(session, json.loads(job.payload))) for job in jobs]


def pack_label(session: Session, payload: dict) -> str:
    """A pack request in words: its first lessons' series and the member it is for."""
    lessons = lessons_for(session, lesson_ids=payload.get("lesson_ids", [])[:50])
    member = session.get(Member, payload["member_id"]) if payload.get("member_id") else None
    what = lessons[0].series.title if lessons else "学习包"
    return f"《{what}》{len(payload.get('lesson_ids', []))} 课" + (f"，给 {member.name}" if member else "")


def pack_job_status(session: Session, job: Job) -> dict[str, Any]:
    """What the waiting page shows: one bar from the first render to the last file written."""
    chain = chain_progress(session, job)
    payload = json.loads(job.payload)
    if job.status == Status.QUEUED and chain["waiting"]:
        # The bar counts the renders' own progress, so the words say the same share.
        message = f"先生成音频：{chain['waited']} 课，已完成 {chain['progress']}%"
    elif job.status == Status.QUEUED and payload.get("office"):
        message = "等U盘：音频已备好，请在办公室电脑上插一个空 U 盘，会自动写好"
    elif job.status == Status.QUEUED:
        message = "排队中，马上开始"
    else:
        message = job.message
    target = "drive" if payload.get("drive") else "office" if payload.get("office") else "zip"
    return {"status": job.status, "progress": chain["progress"], "message": message,
            "pack": chain["result"].get("pack"), "target": target}


def _failed_renders(session: Session, job: Job) -> list[str]:
    lines = []
    for failed in chain_progress(session, job)["failed_before"]:
        rendition = session.get(Rendition, failed.rendition_id) if failed.rendition_id else None
        lesson = rendition.lesson if rendition else None
        name = lesson.label if lesson else "一课"
        lines.append(f"{name}：{failed.message}")
    return lines


def build_pack(session: Session, settings: Settings, lessons: list[Lesson], voice: str, destination=None, *,
               member: Member | None, user: Actor, greeting: bool = False, series_intros: bool = False,
               replace: bool = False, where: str = "", target: PackTarget = PackTarget.ZIP,
               progress: Callable[[int, int], None] | None = None) -> Pack:
    """Plan, write, verify and record one pack, with its audio already made: the one way a
    pack is built, by the web's job (a zip or a drive), the CLI (a drive or an image) alike.
    `destination` is where the files go (an audio.pack target); a zip goes under DATA_DIR."""
    from audio.pack import write_pack, write_zip_file

    # An account is held to its pairings; a command line (an Actor named by a string) is not.
    store = open_store(settings)
    with ExitStack() as files:
        plan = plan_pack(session, lessons, voice, settings, files, member=member,
                         user=user if isinstance(user, User) else None, greeting=greeting, series_intros=series_intros)
        if target == PackTarget.ZIP:
            path = store.scratch(".zip")
            try:
                manifest = write_zip_file(plan, path, progress)
                store.put(path, pack_zip_key(plan.uuid), replace=True)
            finally:
                path.unlink(missing_ok=True)
        else:
            manifest = write_pack(plan, destination, replace=replace, progress=progress)
    return record_pack(session, plan, manifest, voice=voice, target=target, target_path=where, member=member, user=user)


def run_pack_build(session: Session, job: Job, context: JobContext) -> str:
    """Build a pack once its audio is ready: a zip to download, or files on a drive the
    server can see, with progress either way."""
    from audio.pack import DirectoryTarget, PackError

    failures = _failed_renders(session, job)
    if failures:
        raise JobFailed(f"有 {len(failures)} 课的音频没有生成成功，学习包没有做成。" + "；".join(failures[:3]))
    payload = json.loads(job.payload)
    settings = context.settings
    drive = Path(payload["drive"]) if payload.get("drive") else None
    if payload.get("office"):
        drive = office_drive(settings) if settings.usb_drives_here else None
        if drive is None:
            raise JobFailed("办公室电脑上的空 U 盘刚才被拔出了，学习包没有写；请重新发送")
    if drive is not None and (not settings.usb_drives_here
                              or drive not in [path for path, _ in visible_drives(settings.drive_globs)]):
        raise JobFailed(f"找不到 U 盘 {drive}（被拔出了吗？）")
    member = session.get(Member, payload["member_id"]) if payload.get("member_id") else None
    if payload.get("member_id") and member is None:
        raise JobCancelled("这位党员在排队时从名册中删除了，学习包没有做")
    found = set(session.scalars(select(Lesson.id).where(Lesson.id.in_(payload["lesson_ids"]))))
    if gone := [lesson_id for lesson_id in payload["lesson_ids"] if lesson_id not in found]:
        raise JobCancelled(f"学习包里有 {len(gone)} 课在排队时被删除了，学习包没有做；需要时请重新制作")
    user = session.get(User, payload["user_id"]) if payload.get("user_id") else None
    verb = "写入 U 盘" if drive else "打包"

    def progress(done: int, total: int) -> None:
        context.progress(5 + 95 * done // max(1, total), f"正在{verb}：{done}/{total} 个文件")

    try:
        lessons = lessons_for(session, lesson_ids=payload["lesson_ids"])
        context.progress(1, "正在准备问候语和目录" if payload.get("greeting") else "正在准备目录")
        pack = build_pack(session, settings, lessons, payload["voice"], DirectoryTarget(drive) if drive else None,
                          member=member, user=user, greeting=payload.get("greeting", False),
                          series_intros=payload.get("series_intros", False), replace=payload.get("replace", False),
                          where=str(drive or ""), target=PackTarget.DRIVE if drive else PackTarget.ZIP,
                          progress=progress)
    except (PackRequestError, PackError) as exc:
        raise JobFailed(str(exc)) from None
    except OSError as exc:
        raise JobFailed(f"服务器磁盘写不进去（{exc.strerror or exc}），学习包没有做成。请联系管理员清理空间后再试。") from None
    job.result = json.dumps({"pack": pack.uuid})
    if payload.get("office"):
        return "已写好：办公室电脑上的 U 盘校验通过，可以拔下带走了"
    if drive is not None:
        return f"学习包已写好并校验通过，可以拔下 U 盘了（{drive}）"
    return f"学习包已做好：{pack.lesson_count} 课"

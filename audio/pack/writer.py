"""Writing and checking packs: one file at a time in play order, each synced and read back,
the manifest last; and the same pack as a zip download."""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from audio.pack.plan import MANIFEST, MARGIN_BYTES, PLANNED, SIDE_FILES, SYSTEM_ENTRIES, PackError, Plan
from audio.pack.side_files import manifest, side_entry, side_files, track_entry
from audio.pack.targets import Target, translate_os_error
from audio.store import temporary_name


def write_pack(
    plan: Plan,
    target: Target,
    *,
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Write, sync, re-read and compare, then write the manifest. Returns the manifest.

    A target with anything on it is refused unless `replace`, which removes old pack folders
    (and a folder of the same name) completely first and leaves the member's other files alone.
    On any failure no manifest exists, so the half-written pack can never pass for complete,
    and the pack's folder is removed as far as the drive still allows: a player must never
    find a track cut short by a full or pulled-out drive."""
    existing = [name for name in target.listdir("") if name not in SYSTEM_ENTRIES and not name.startswith(".")]
    if existing and not replace:
        raise PackError(f"目标位置不是空的（已有 {', '.join(existing[:3])} 等），为防止误删，请换一个空 U 盘，或选择“替换”")
    files = plan.files()
    needed = plan.total_size + MARGIN_BYTES  # the margin also covers the catalogs and manifest
    started = False
    try:
        if replace:
            for name in existing:
                if name == plan.top or target.exists(f"{name}/{MANIFEST}") or target.exists(f"{name}/{PLANNED}"):
                    target.remove_tree(name)
        free = target.free_bytes()
        if free < needed:
            raise PackError(
                f"U 盘空间不够：需要 {needed / 1024 / 1024:.0f} MB，只剩 {free / 1024 / 1024:.0f} MB。请换一个更大的 U 盘或少选几课。"
            )
        target.makedir(plan.top)
        started = True
        planned = json.dumps({"uuid": plan.uuid, "files": [path.split("/", 1)[1] for path, _ in files]},
                             ensure_ascii=False).encode()
        target.write(f"{plan.top}/{PLANNED}", iter([planned]))
        made: list[str] = [plan.top]
        total = len(files) + len(SIDE_FILES)
        entries = []
        problems: list[str] = []
        # Each track is re-read and hashed on another thread while the next one is written
        # (where the target allows it; pyfatfs images are read back in line), then given its
        # name, in play order; the catalogs are typeset meanwhile.
        with ThreadPoolExecutor(max_workers=2) as checker, ThreadPoolExecutor(max_workers=1) as typesetter:
            pending_side = typesetter.submit(side_files, plan)
            waiting: tuple[str, str, Future] | None = None
            for done, (path, track) in enumerate(files, start=1):
                folder = str(PurePosixPath(path).parent)
                if folder not in made:
                    if waiting:
                        problems += _name_when_checked(target, *waiting)
                        waiting = None
                    target.finish_folder(made[-1])
                    target.makedir(folder)
                    made.append(folder)
                staged = target.staging_name(path, done)
                target.copy(staged, track.source)
                entry = track_entry(plan, path, track)
                entries.append(entry)
                check = _check(checker, target, staged, entry)
                if waiting:
                    problems += _name_when_checked(target, *waiting)
                waiting = (staged, path, check)
                if progress:
                    progress(done, total)
            if waiting:
                problems += _name_when_checked(target, *waiting)
            side = pending_side.result()
            checks = []
            for done, (name, data) in enumerate(side.items(), start=len(files) + 1):
                target.write(f"{plan.top}/{name}", iter([data]))
                entry = side_entry(name, data)
                entries.append(entry)
                checks.append(_check(checker, target, f"{plan.top}/{name}", entry))
                if progress:
                    progress(done, total)
            problems += [problem for check in checks for problem in check.result()]
        for folder in made:
            target.finish_folder(folder)
        if problems:
            raise PackError("写入后校验不一致：" + "；".join(problems[:3]))
        body = manifest(plan, entries)
        target.write(f"{plan.top}/{MANIFEST}", iter([body]))
        target.remove_file(f"{plan.top}/{PLANNED}")  # the manifest says it all now
        target.finish_folder(plan.top)
    except BaseException as exc:
        if started:
            _remove_half_written(target, plan.top)
        if isinstance(exc, OSError):
            raise translate_os_error(exc) from exc
        raise
    return json.loads(body)


def _remove_half_written(target: Target, top: str) -> None:
    try:
        target.remove_tree(top)
    except Exception:  # the drive may be gone or read-only by now; nothing more can be done
        pass


def _check(checker: ThreadPoolExecutor, target: Target, path: str, entry: dict) -> Future:
    if target.concurrent_reads:
        return checker.submit(_verify_file, target, path, entry)
    done: Future = Future()
    done.set_result(_verify_file(target, path, entry))
    return done


def _name_when_checked(target: Target, staged: str, path: str, check: Future) -> list[str]:
    """A track gets its playable name only once it has been read back whole."""
    problems = check.result()
    if not problems and staged != path:
        target.rename(staged, path)
    return problems


def _verify_file(target: Target, path: str, entry: dict) -> list[str]:
    if not target.exists(path):
        return [f"缺少文件 {entry['path']}"]
    digest, size = hashlib.sha256(), 0
    for chunk in target.read(path):
        digest.update(chunk)
        size += len(chunk)
    if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
        return [f"文件已损坏 {entry['path']}"]
    return []


def verify_entries(target: Target, top: str, entries: Sequence[dict]) -> list[str]:
    return [problem for entry in entries for problem in _verify_file(target, f"{top}/{entry['path']}", entry)]


def find_pack(target: Target) -> str:
    for name in target.listdir(""):
        if target.exists(f"{name}/{MANIFEST}"):
            return name
    unfinished = [name for name in target.listdir("") if target.exists(f"{name}/{PLANNED}")]
    if unfinished:
        raise PackError(f"学习包「{unfinished[0]}」没有写完：{'；'.join(_missing(target, unfinished[0]))}。"
                        "没写完的音轨不会被播放；请重新写入这个学习包")
    raise PackError("这里没有完整的学习包（找不到 manifest.json，可能没有写完）")


def _missing(target: Target, top: str) -> list[str]:
    """What an unfinished pack lacks, from the plan it wrote first."""
    try:
        planned = json.loads(b"".join(target.read(f"{top}/{PLANNED}")))["files"]
    except (ValueError, KeyError, TypeError, OSError):
        return ["缺少 manifest.json"]
    absent = [name for name in planned if not target.exists(f"{top}/{name}")]
    shown = "、".join(PurePosixPath(name).name for name in absent[:5]) + (f" 等 {len(absent)} 个" if len(absent) > 5 else "")
    return ([f"缺少音轨 {shown}"] if absent else []) + ["缺少 manifest.json"]


def verify_pack(target: Target) -> tuple[dict, list[str]]:
    """Re-check a pack on a drive or image against its manifest: (manifest, problems)."""
    top = find_pack(target)
    body = json.loads(b"".join(target.read(f"{top}/{MANIFEST}")))
    return body, verify_entries(target, top, body["files"])


def write_zip_file(plan: Plan, path: Path, progress: Callable[[int, int], None] | None = None) -> dict:
    """The zip written beside its final name and renamed when complete: a full disk or a
    crash never leaves a cut-off zip where the download link looks."""
    partial = path.with_name(temporary_name(f"-{path.name}"))
    try:
        with open(partial, "wb") as out:
            body = write_zip(plan, out, progress)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return body


def write_zip(plan: Plan, out: io.BufferedIOBase | Path, progress: Callable[[int, int], None] | None = None) -> dict:
    """The same pack as a zip download (stored, not compressed: MP3 does not shrink)."""
    entries = []
    files = plan.files()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for done, (path, track) in enumerate(files, start=1):
            archive.write(track.source, path)
            entries.append(track_entry(plan, path, track))
            if progress:
                progress(done, len(files))
        for name, data in side_files(plan).items():
            archive.writestr(f"{plan.top}/{name}", data)
            entries.append(side_entry(name, data))
        body = manifest(plan, entries)
        archive.writestr(f"{plan.top}/{MANIFEST}", body)
    return json.loads(body)


"""USB audio packs for the plug-in players elderly members use (唱戏机, 插卡音箱).

Those players play files in the order they were written to the FAT directory, not by name,
some sort by the 8.3 short name, and none can show a long Chinese title. So a pack is written
into a fresh folder, one file at a time in play order, each flushed and synced; every name
starts with a zero-padded ASCII number that survives into the short name; and the manifest
(hashes of every file) is written last: a pack without a manifest is incomplete by definition.

Targets: a directory (a mounted drive), a FAT32 disk image (to clone onto many drives), or a
zip download. Nothing here knows about the database; core/packs.py plans packs from records.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import struct
import unicodedata
import zipfile
from abc import ABC, abstractmethod
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
CATALOG_TXT = "目录.txt"
CATALOG_PDF = "目录.pdf"
PLAYLIST = "播放列表.m3u8"
SIDE_FILES = (CATALOG_TXT, PLAYLIST, CATALOG_PDF)
FORBIDDEN = set('\\/:*?"<>|')
MAX_NAME_CHARS = 80
MAX_FILES_PER_FOLDER = 250  # cheap players list at most 255 entries a folder
SYSTEM_ENTRIES = {"System Volume Information", ".Trashes", ".Spotlight-V100", ".fseventsd", "$RECYCLE.BIN"}
CHUNK = 4 * 1024 * 1024
MARGIN_BYTES = 2 * 1024 * 1024


class PackError(Exception):
    """A pack that could not be written or verified; str() is a Chinese message."""


@dataclass(frozen=True)
class Track:
    source: Path
    title: str  # e.g. "第3课 社区防诈骗"
    duration: float
    sha256: str
    size: int
    lesson_id: int | None = None
    version_hash: str | None = None
    voice: str = ""


@dataclass(frozen=True)
class Folder:
    name: str | None  # None: tracks sit in the top folder
    tracks: tuple[Track, ...]
    intro: Track | None = None  # a spoken introduction, file 000 of the folder


@dataclass
class Plan:
    uuid: str
    top: str
    folders: list[Folder]
    info: dict = field(default_factory=dict)  # member, volunteer, created_at, title …
    greeting: Track | None = None  # track 000, played first

    def __post_init__(self) -> None:
        self.top = safe_name(self.top)
        for folder in self.folders:
            if len(folder.tracks) > MAX_FILES_PER_FOLDER:
                raise PackError(f"一个文件夹最多放 {MAX_FILES_PER_FOLDER} 课（播放器的限制），请分成几个专题")

    def files(self) -> list[tuple[str, Track]]:
        """(relative path, track) in play order; names are final and unique. Every file in a
        folder has its own number, because players sort by name: the greeting is 000, a series
        introduction comes next, then the lessons (from 001 when nothing comes before them)."""
        out = []
        numbers: dict[str, int] = {}

        def add(base: str, track: Track, lesson: bool) -> None:
            number = max(numbers.get(base, 0), 1 if lesson else 0)
            numbers[base] = number + 1
            out.append((f"{base}/{number:03d} {safe_name(track.title)}.mp3", track))

        if self.greeting is not None:
            add(self.top, self.greeting, lesson=False)
        folder_names: set[str] = set()
        for index, folder in enumerate(self.folders, start=1):
            base = self.top
            if folder.name is not None:
                base = f"{self.top}/{unique_name(f'{index:02d} {safe_name(folder.name)}', folder_names)}"
            if folder.intro is not None:
                add(base, folder.intro, lesson=False)
            for track in folder.tracks:
                add(base, track, lesson=True)
        return out

    @property
    def lesson_count(self) -> int:
        return sum(len(folder.tracks) for folder in self.folders)

    def count_line(self) -> str:
        """What the catalogs say the pack holds: the lessons, and the other tracks by name."""
        extras = (["开场问候"] if self.greeting is not None else []) + (
            ["专题介绍"] if any(folder.intro is not None for folder in self.folders) else [])
        also = f"（另有{'和'.join(extras)}）" if extras else ""
        return f"共 {self.lesson_count} 课{also}，总时长 {_format_duration(self.total_duration)}"

    @property
    def total_size(self) -> int:
        return sum(track.size for _, track in self.files())

    @property
    def total_duration(self) -> float:
        return sum(track.duration for _, track in self.files())


def safe_name(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """A name every FAT32 driver and cheap player accepts: no reserved characters or control
    characters, no trailing dot or space, bounded length."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch in FORBIDDEN or unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    text = text[:limit].rstrip(" .")
    return text or "未命名"


def unique_name(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate.casefold() in used:
        candidate = f"{name} ({n})"
        n += 1
    used.add(candidate.casefold())
    return candidate


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


# --------------------------------------------------------------------------- side files


def catalog_text(plan: Plan) -> bytes:
    lines = [plan.info.get("title", "学习包"), ""]
    if plan.info.get("member"):
        lines.append(f"收听人：{plan.info['member']}")
    lines.append(plan.count_line())
    lines.append("")
    for path, track in plan.files():
        lines.append(f"{PurePosixPath(path).name[:3]}  {track.title}  {_format_duration(track.duration)}")
    lines += ["", f"包编号：{plan.uuid}"]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def playlist(plan: Plan, folder_prefix: str) -> bytes:
    lines = ["#EXTM3U"]
    for path, track in plan.files():
        lines.append(f"#EXTINF:{int(round(track.duration))},{track.title}")
        lines.append(path[len(folder_prefix) + 1:])
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def catalog_pdf(plan: Plan) -> bytes:
    """A large-print A4 label: number → title, so a helper can find a lesson by ear and eye."""
    from audio.pdf import cjk_pdf

    pdf = cjk_pdf()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("noto", size=26)
    pdf.multi_cell(0, 13, plan.info.get("title", "学习包"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=16)
    member = f"收听人：{plan.info['member']}    " if plan.info.get("member") else ""
    pdf.multi_cell(0, 9, f"{member}{plan.count_line()}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    current = None
    for path, track in plan.files():
        folder = str(PurePosixPath(path).parent)
        if folder != current and folder != plan.top:
            pdf.set_font("noto", size=20)
            pdf.multi_cell(0, 11, PurePosixPath(folder).name, new_x="LMARGIN", new_y="NEXT")
        current = folder
        pdf.set_font("noto", size=20)
        pdf.multi_cell(0, 11, f"{PurePosixPath(path).name[:3]}  {track.title}  （{_format_duration(track.duration)}）",
                       new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    pdf.ln(4)
    pdf.multi_cell(0, 6, f"包编号 {plan.uuid}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def side_files(plan: Plan) -> dict[str, bytes]:
    made = {CATALOG_TXT: catalog_text(plan), PLAYLIST: playlist(plan, plan.top), CATALOG_PDF: catalog_pdf(plan)}
    return {name: made[name] for name in SIDE_FILES}


def track_entry(plan: Plan, path: str, track: Track) -> dict:
    return {"path": path[len(plan.top) + 1:], "title": track.title, "lesson_id": track.lesson_id,
            "version": track.version_hash, "voice": track.voice, "duration": round(track.duration, 1),
            "size": track.size, "sha256": track.sha256}


def side_entry(name: str, data: bytes) -> dict:
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def manifest(plan: Plan, entries: list[dict]) -> bytes:
    body = {
        "format": "xiangyin-pack/1",
        "uuid": plan.uuid,
        **plan.info,
        "total_duration": round(plan.total_duration, 1),
        "files": entries,
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


# --------------------------------------------------------------------------- writers


class Target(ABC):
    """Where a pack goes: something that creates folders and writes files in order."""

    # Whether a file may be read back on another thread while the next one is written.
    concurrent_reads = False

    @abstractmethod
    def free_bytes(self) -> int: ...

    @abstractmethod
    def makedir(self, path: str) -> None: ...

    @abstractmethod
    def write(self, path: str, chunks: Iterator[bytes]) -> None: ...

    def copy(self, path: str, source: Path) -> None:
        self.write(path, _file_chunks(source))

    def finish_folder(self, path: str) -> None:
        """Everything in `path` is written: make its directory entries durable."""

    @abstractmethod
    def read(self, path: str) -> Iterator[bytes]: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def remove_tree(self, path: str) -> None: ...

    @abstractmethod
    def listdir(self, path: str) -> list[str]: ...


class DirectoryTarget(Target):
    """A mounted drive. Each file is synced on a helper thread while the next one is being
    copied: files are still created one at a time in play order (which fixes the directory
    order), but the drive never idles waiting for a flush. Reading a file back waits for its
    sync, and the cached pages are dropped first, so verification reads the drive itself."""

    concurrent_reads = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._syncer = ThreadPoolExecutor(max_workers=1)
        self._synced: dict[str, Future] = {}

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def makedir(self, path: str) -> None:
        (self.root / path).mkdir(parents=False, exist_ok=False)
        _fsync_dir(self.root / path)

    def write(self, path: str, chunks: Iterator[bytes]) -> None:
        out = open(self.root / path, "xb")
        try:
            for chunk in chunks:
                out.write(chunk)
        except BaseException:
            out.close()
            raise
        self._synced[path] = self._syncer.submit(_sync_and_close, out)

    def copy(self, path: str, source: Path) -> None:
        out = open(self.root / path, "xb")
        try:
            with open(source, "rb") as src:
                _sendfile(src, out)
        except BaseException:
            out.close()
            raise
        self._synced[path] = self._syncer.submit(_sync_and_close, out)

    def _wait(self, path: str) -> None:
        pending = self._synced.pop(path, None)
        if pending is not None:
            pending.result()  # re-raises a failed flush (drive full or pulled out)

    def finish_folder(self, path: str) -> None:
        for name in [p for p in self._synced if p.startswith(path + "/") or p == path]:
            self._wait(name)
        _fsync_dir(self.root / path)

    def read(self, path: str) -> Iterator[bytes]:
        self._wait(path)
        with open(self.root / path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, path: str) -> bool:
        self._wait(path)
        return (self.root / path).exists()

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(self.root / path)
        _fsync_dir(self.root)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(self.root / path)) if path else sorted(os.listdir(self.root))


def _sync_and_close(out) -> None:
    try:
        out.flush()
        os.fsync(out.fileno())
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        out.close()


def _sendfile(src, out) -> None:
    size = os.fstat(src.fileno()).st_size
    offset = 0
    while offset < size:
        sent = os.sendfile(out.fileno(), src.fileno(), offset, size - offset)
        if sent == 0:
            break
        offset += sent


def visible_drives(patterns: Sequence[str]) -> list[tuple[Path, int]]:
    """Mounted drives this computer can see (the server runs on the volunteer's own machine):
    (mount point, free bytes). `patterns` are globs such as /media/*/*."""
    import glob

    found = []
    for pattern in patterns:
        for name in sorted(glob.glob(pattern)):
            path = Path(name)
            if path.is_dir() and (os.path.ismount(path) or os.name == "nt") and os.access(path, os.W_OK):
                found.append((path, shutil.disk_usage(path).free))
    return found


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FatImageTarget(Target):
    """A FAT32 disk image written with pyfatfs: directory order is write order, guaranteed."""

    def __init__(self, image: Path) -> None:
        from pyfatfs.PyFatFS import PyFatFS

        self.image = Path(image)
        self.fs = PyFatFS(str(image), utc=True)

    @staticmethod
    def create(image: Path, size: int, label: str = "XIANGYIN") -> FatImageTarget:
        from pyfatfs.PyFat import PyFat

        if size < 34 * 1024 * 1024:
            raise PackError("FAT32 镜像至少需要 34 MB")
        with open(image, "wb") as fh:
            fh.truncate(size)
        fat = PyFat()
        fat.mkfs(str(image), fat_type=PyFat.FAT_TYPE_FAT32, size=size, label=label[:11])
        fat.close()
        return FatImageTarget(image)

    def _free_clusters(self) -> int:
        with open(self.image, "rb") as fh:
            boot = fh.read(64)
        bytes_per_sector, per_cluster = struct.unpack_from("<HB", boot, 11)
        reserved, fats = struct.unpack_from("<HB", boot, 14)
        total, fat_size = struct.unpack_from("<I", boot, 32)[0], struct.unpack_from("<I", boot, 36)[0]
        clusters = (total - reserved - fats * fat_size) // per_cluster
        return sum(1 for cluster in self.fs.fs.fat[2:2 + clusters] if cluster == 0)

    def free_bytes(self) -> int:
        return self._free_clusters() * self.fs.fs.bytes_per_cluster

    def makedir(self, path: str) -> None:
        self.fs.makedir("/" + path)

    def write(self, path: str, chunks: Iterator[bytes]) -> None:
        with self.fs.openbin("/" + path, "w") as out:
            for chunk in chunks:
                out.write(chunk)

    def read(self, path: str) -> Iterator[bytes]:
        with self.fs.openbin("/" + path, "r") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def exists(self, path: str) -> bool:
        return self.fs.exists("/" + path)

    def remove_tree(self, path: str) -> None:
        self.fs.removetree("/" + path)

    def listdir(self, path: str) -> list[str]:
        return self.fs.listdir("/" + path)

    def close(self) -> None:
        """Close, then record the true free-cluster count in FSInfo (pyfatfs leaves the count
        from formatting, and some systems show that as the free space)."""
        free = self._free_clusters()
        self.fs.close()
        with open(self.image, "r+b") as fh:
            boot = fh.read(64)
            bytes_per_sector = struct.unpack_from("<H", boot, 11)[0]
            info_sector, backup_boot = struct.unpack_from("<HH", boot, 48)
            for sector in (info_sector, backup_boot + info_sector):
                fh.seek(sector * bytes_per_sector + 488)
                fh.write(struct.pack("<II", free, 0xFFFFFFFF))


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _translate(exc: OSError) -> PackError:
    if exc.errno == errno.ENOSPC:
        return PackError("U 盘空间不够，学习包没有写完。请换一个更大的 U 盘或少选几课。")
    if exc.errno in (errno.ENOENT, errno.EIO, errno.ENODEV, errno.ENXIO, errno.EROFS):
        return PackError("U 盘被拔出、只读或无法写入，学习包没有写完。请重新插好 U 盘后再写一次。")
    return PackError(f"写入失败：{exc.strerror or exc}")


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
                if name == plan.top or target.exists(f"{name}/{MANIFEST}"):
                    target.remove_tree(name)
        free = target.free_bytes()
        if free < needed:
            raise PackError(
                f"U 盘空间不够：需要 {needed / 1024 / 1024:.0f} MB，只剩 {free / 1024 / 1024:.0f} MB。请换一个更大的 U 盘或少选几课。"
            )
        target.makedir(plan.top)
        started = True
        made: list[str] = [plan.top]
        total = len(files) + len(SIDE_FILES)
        entries = []
        # Each file is re-read and hashed on other threads while the next one is written (where
        # the target allows it; pyfatfs images are read back in line), and the catalogs are
        # typeset meanwhile.
        with ThreadPoolExecutor(max_workers=2) as checker, ThreadPoolExecutor(max_workers=1) as typesetter:
            pending_side = typesetter.submit(side_files, plan)
            checks = []
            for done, (path, track) in enumerate(files, start=1):
                folder = str(PurePosixPath(path).parent)
                if folder not in made:
                    target.finish_folder(made[-1])
                    target.makedir(folder)
                    made.append(folder)
                target.copy(path, track.source)
                entry = track_entry(plan, path, track)
                entries.append(entry)
                checks.append(_check(checker, target, plan.top, entry))
                if progress:
                    progress(done, total)
            side = pending_side.result()
            for done, (name, data) in enumerate(side.items(), start=len(files) + 1):
                target.write(f"{plan.top}/{name}", iter([data]))
                entry = side_entry(name, data)
                entries.append(entry)
                checks.append(_check(checker, target, plan.top, entry))
                if progress:
                    progress(done, total)
            problems = [problem for check in checks for problem in check.result()]
        for folder in made:
            target.finish_folder(folder)
        if problems:
            raise PackError("写入后校验不一致：" + "；".join(problems[:3]))
        body = manifest(plan, entries)
        target.write(f"{plan.top}/{MANIFEST}", iter([body]))
        target.finish_folder(plan.top)
    except BaseException as exc:
        if started:
            _remove_half_written(target, plan.top)
        if isinstance(exc, OSError):
            raise _translate(exc) from exc
        raise
    return json.loads(body)


def _remove_half_written(target: Target, top: str) -> None:
    try:
        target.remove_tree(top)
    except Exception:  # the drive may be gone or read-only by now; nothing more can be done
        pass


def _check(checker: ThreadPoolExecutor, target: Target, top: str, entry: dict) -> Future:
    if target.concurrent_reads:
        return checker.submit(verify_entries, target, top, [entry])
    done: Future = Future()
    done.set_result(verify_entries(target, top, [entry]))
    return done


def verify_entries(target: Target, top: str, entries: Sequence[dict]) -> list[str]:
    problems = []
    for entry in entries:
        path = f"{top}/{entry['path']}"
        if not target.exists(path):
            problems.append(f"缺少文件 {entry['path']}")
            continue
        digest, size = hashlib.sha256(), 0
        for chunk in target.read(path):
            digest.update(chunk)
            size += len(chunk)
        if size != entry["size"] or digest.hexdigest() != entry["sha256"]:
            problems.append(f"文件已损坏 {entry['path']}")
    return problems


def find_pack(target: Target) -> str:
    for name in target.listdir(""):
        if target.exists(f"{name}/{MANIFEST}"):
            return name
    raise PackError("这里没有完整的学习包（找不到 manifest.json，可能没有写完）")


def verify_pack(target: Target) -> tuple[dict, list[str]]:
    """Re-check a pack on a drive or image against its manifest: (manifest, problems)."""
    top = find_pack(target)
    body = json.loads(b"".join(target.read(f"{top}/{MANIFEST}")))
    return body, verify_entries(target, top, body["files"])


def write_zip_file(plan: Plan, path: Path, progress: Callable[[int, int], None] | None = None) -> dict:
    """The zip written beside its final name and renamed when complete: a full disk or a
    crash never leaves a cut-off zip where the download link looks."""
    partial = path.with_name(path.name + ".part")
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

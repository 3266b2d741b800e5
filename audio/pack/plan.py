"""What a pack holds and how its files are named: folders of tracks in play order, names a
FAT directory and a screenless player both survive."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
# Tracks being written: an 8.3 name with an extension no player plays (see Target.staging_name).
STAGING_PREFIX, STAGING_SUFFIX = "~XY", ".TMP"
# What the pack will hold, written first (a dot name players skip), so a pack that was never
# finished can still say which tracks it lacks.
PLANNED = ".xiangyin-plan.json"
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
    question: str = ""  # 听后一问 as printed in the catalogue: "问题 A、… B、…"


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
    echo: Track | None = None  # 回音: replies to the member's messages, before everything else

    def __post_init__(self) -> None:
        self.top = safe_name(self.top)
        for folder in self.folders:
            if len(folder.tracks) > MAX_FILES_PER_FOLDER:
                raise PackError(f"一个文件夹最多放 {MAX_FILES_PER_FOLDER} 课（播放器的限制），请分成几个专题")

    def files(self) -> list[tuple[str, Track]]:
        """(relative path, track) in play order; names are final and unique. Every file in a
        folder has its own number, because players sort by name: the replies (回音) are 000, the
        greeting next, a series introduction next, then the lessons (from 001 when nothing
        comes before them)."""
        out = []
        numbers: dict[str, int] = {}

        def add(base: str, track: Track, lesson: bool) -> None:
            number = max(numbers.get(base, 0), 1 if lesson else 0)
            numbers[base] = number + 1
            out.append((f"{base}/{number:03d} {safe_name(track.title)}.mp3", track))

        if self.echo is not None:
            add(self.top, self.echo, lesson=False)
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
        extras = (["回音"] if self.echo is not None else []) + (["开场问候"] if self.greeting is not None else []) + (
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


"""What every part of the importer shares: limits, the refusal, and the shapes of a
decoded script and of an upload on the review page."""
from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import Invalid
from core.settings import Settings

SCRIPT_SUFFIXES = (".txt", ".md", ".markdown", ".docx")
ZIP_SUFFIX = ".zip"
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
TITLE_MAX_CHARS = 60
PREVIEW_LINES = 6
PREVIEW_CHARS = 240
# Real scripts score above 0.9 in their own encoding; GBK read as Big5 (or the reverse) scores
# 0.2-0.45, so a clear margin plus enough hanzi to judge by makes a decision safe.
SURE_SCORE = 0.9
SURE_MARGIN = 0.2
SURE_MIN_HANZI = 8


@dataclass(frozen=True)
class Limits:
    max_script_bytes: int = 2 * 1024 * 1024
    max_zip_bytes: int = 50 * 1024 * 1024
    max_zip_entries: int = 200
    max_zip_uncompressed_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_script_bytes=settings.max_script_bytes,
            max_zip_bytes=settings.max_zip_bytes,
            max_zip_entries=settings.max_zip_entries,
            max_zip_uncompressed_bytes=settings.max_zip_uncompressed_bytes,
        )


class ImportRefused(Invalid):
    """A file that cannot become a lesson; str() is the message shown to the admin."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"「{filename}」{reason}")
        self.filename = filename
        self.reason = reason


@dataclass(frozen=True)
class EncodingCandidate:
    encoding: str
    label: str
    preview: str
    score: float


@dataclass
class Script:
    """A decoded script ready to become a lesson."""

    filename: str
    title: str
    text: str
    encoding: str | None = None
    # The lesson number the file states (第十课): orders a batch and is reported when it
    # differs from the lesson's place, since the title loses it.
    stated_number: int | None = None


@dataclass
class Upload:
    """One file of a batch after inspection: exactly one of script, candidates, error is set."""

    filename: str
    data: bytes = field(repr=False)
    script: Script | None = None
    candidates: list[EncodingCandidate] = field(default_factory=list)
    error: str | None = None

    @staticmethod
    def readable(uploads: list[Upload]) -> list[Script]:
        """The scripts of the files that could be read, in upload order."""
        return [upload.script for upload in uploads if upload.script is not None]

    @property
    def status(self) -> str:
        if self.error:
            return "refused"
        if self.script is None:
            return "unsure"
        return "ok"


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8（带 BOM）",
    "gb18030": "GBK / GB18030（简体中文 Windows 默认）",
    "big5": "Big5（繁体中文）",
    "utf-16": "UTF-16（Unicode）",
    "utf-16-le": "UTF-16 LE（无 BOM）",
    "utf-16-be": "UTF-16 BE（无 BOM）",
}
CHOOSABLE_ENCODINGS = ("utf-8", "gb18030", "big5", "utf-16-le", "utf-16-be")


def human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} 字节"



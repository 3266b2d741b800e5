"""Per-segment audio cache, keyed by everything that changes how a segment sounds.

Re-rendering an unchanged lesson must cost no engine calls, and after an edit only changed
segments are spoken again. Files are written atomically, and each has a small record of its
size and SHA-256 written after it: a file that no longer matches its record (cut
short at an MP3 frame boundary, which still decodes) is spoken again, never reused.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

from audio.engines import SpeechAudio
from audio.mp3 import NotMp3, mp3_info
from audio.store import follow_umask, owner_gone, temporary_prefix

FORMATS = ("mp3", "wav")


@dataclass(frozen=True)
class CachedSegment:
    path: Path
    format: str
    duration: float


def spoken_units(text: str) -> int:
    """Syllables, roughly: each hanzi, each run of Latin letters or digits."""
    units = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    ascii_words = [w for w in "".join(ch if ch.isascii() and ch.isalnum() else " " for ch in text).split()]
    return units + sum(max(1, len(w) // 3) for w in ascii_words)


def plausible_duration(text: str, seconds: float) -> bool:
    """Between very fast speech and a very slow, pause-heavy one: catches empty, truncated or
    runaway audio without rejecting any real engine's pace."""
    units = max(1, spoken_units(text))
    return 0.04 * units <= seconds <= 2.0 * units + 5.0


def audio_duration(data: bytes, fmt: str) -> float:
    """Duration of a whole, decodable file; raises ValueError otherwise."""
    if fmt == "mp3":
        return mp3_info(data)[0]
    if fmt == "wav":
        try:
            with wave.open(io.BytesIO(data)) as wav:
                frames, rate = wav.getnframes(), wav.getframerate()
                if wav.getsampwidth() * wav.getnchannels() * frames > len(data) - 44 + 4:
                    raise ValueError("wav shorter than its header says")
                return frames / rate
        except (wave.Error, EOFError) as exc:
            raise ValueError(str(exc)) from exc
    raise ValueError(f"unknown format {fmt}")


# A reply shorter than this share of the length the voice's own pace predicts is cut short.
SHORT_SHARE = 0.6
# Until a voice has spoken this much, nothing is judged by its pace (too little to know it).
PACE_MIN_UNITS = 60


class Paces:
    """Seconds each voice (engine, voice, rate, model version) really takes per spoken unit,
    learned from the segments it spoke and kept beside the cache, so a reply that says only
    part of its text is recognised: the online service sometimes ends normally after half a
    sentence, with a whole and valid MP3. The pace is the median of the voice's recent
    segments (weighted by their length), so the odd short reply accepted before the pace was
    known does not drag it down."""

    RECENT = 200

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._samples: dict[str, list[list[float]]] = {}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self._samples = {key: [[float(pace), float(units)] for pace, units in samples][-self.RECENT:]
                             for key, samples in loaded.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            pass

    def pace(self, voice_key: str) -> float | None:
        with self._lock:
            samples = sorted(self._samples.get(voice_key, ()))
        total = sum(units for _, units in samples)
        if len(samples) < 3 or total < PACE_MIN_UNITS:
            return None
        running = 0.0
        for pace, units in samples:
            running += units
            if running >= total / 2:
                return pace
        return samples[-1][0]

    def expected(self, voice_key: str, text: str) -> float | None:
        """Seconds this voice should take to say `text`; None while its pace is unknown."""
        pace = self.pace(voice_key)
        return None if pace is None else pace * spoken_units(text)

    def learn(self, voice_key: str, text: str, seconds: float) -> None:
        units = spoken_units(text)
        if units < 4:
            return  # a word or two is mostly its pause
        with self._lock:
            samples = self._samples.setdefault(voice_key, [])
            samples.append([seconds / units, float(units)])
            del samples[:-self.RECENT]
            snapshot = json.dumps(self._samples)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, snapshot.encode())


def too_short(text: str, seconds: float, expected: float | None) -> str | None:
    """Why audio of `seconds` cannot be all of `text` (None: it can be)."""
    if not plausible_duration(text, seconds):
        return f"合成的声音长度不合理（{seconds:.1f} 秒）"
    if expected is not None and seconds < SHORT_SHARE * expected:
        return f"合成的声音只有应有长度的 {seconds / expected:.0%}（{seconds:.1f} 秒，应约 {expected:.1f} 秒）"
    return None


class SegmentCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.paces = Paces(self.root / "paces.json")

    @staticmethod
    def key(text: str, engine: str, engine_voice: str, rate: int, pitch: int, engine_version: str) -> str:
        material = json.dumps([text, engine, engine_voice, rate, pitch, engine_version], ensure_ascii=False)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _path(self, key: str, fmt: str) -> Path:
        return self.root / key[:2] / f"{key}.{fmt}"

    def get(self, key: str, text: str, expected: float | None = None) -> CachedSegment | None:
        """The segment, if it is whole and as long as `text` needs (re-checked against the
        voice's pace as now known: a cut-short reply cached before is spoken again)."""
        for fmt in FORMATS:
            path = self._path(key, fmt)
            if not path.is_file():
                continue
            record = self._record(path)
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if (record is None or record.get("size") != len(data)
                    or record.get("sha256") != hashlib.sha256(data).hexdigest()):
                # Damaged, or another thread is between writing the audio and its record:
                # a miss, never a deletion (that thread is about to use this very path).
                # The next put() replaces it atomically.
                continue
            try:
                duration = audio_duration(data, fmt)
            except (ValueError, NotMp3):
                duration = -1.0
            if duration > 0 and too_short(text, duration, expected) is None:
                return CachedSegment(path, fmt, duration)
            # Complete as written but not speech of this text: never worth keeping.
            path.unlink(missing_ok=True)
            self._record_path(path).unlink(missing_ok=True)
        return None

    @staticmethod
    def _record_path(path: Path) -> Path:
        return path.with_name(path.name + ".json")

    def _record(self, path: Path) -> dict | None:
        try:
            record = json.loads(self._record_path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def put(self, key: str, audio: SpeechAudio, expected: float | None = None) -> CachedSegment:
        path = self._path(key, audio.format)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"size": len(audio.data), "sha256": hashlib.sha256(audio.data).hexdigest(),
                  "seconds": round(audio.duration, 3), "expected": round(expected, 3) if expected else None}
        _atomic_write(path, audio.data)
        _atomic_write(self._record_path(path), json.dumps(record).encode())
        return CachedSegment(path, audio.format, audio.duration)

    def sweep(self, older_than: float = 3600.0) -> int:
        """Remove temporary files a killed process left behind; returns how many."""
        return sweep_temporary(self.root, ".tmp-*", older_than)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(), suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        follow_umask(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_temporary(root: Path, pattern: str, older_than: float) -> int:
    """Delete temporary files matching `pattern` under `root`: at once when their name says
    the process that wrote them is gone, otherwise when not touched for `older_than` seconds
    (a live writer touches its file constantly, a killed one never again)."""
    import time

    if not root.is_dir():
        return 0
    horizon, removed = time.time() - older_than, 0
    for leftover in root.rglob(pattern):
        try:
            if leftover.is_file() and (owner_gone(leftover.name) or leftover.stat().st_mtime < horizon):
                leftover.unlink()
                removed += 1
        except OSError:
            continue
    return removed

"""Audio from strangers: a phone's message, a volunteer's take, an uploaded recording.

Such a file is judged by its content, never by its name, and decoded exactly once, bounded:
the header is read first (what ffmpeg's demuxer finds, not the suffix), sample rates and
channel counts no speech recording has are refused before any decoding, and the one decode
runs in a child limited in wall time, CPU seconds and address space, stopped after the
longest duration the caller accepts. Its output is a plain mono FLAC at the mastering rate,
which everything downstream (loudness checks, mastering, playback) reads instead of the
upload, so no later step decodes a stranger's bytes again.

A process decodes at most `slots` uploads at once; the next caller is told the server is busy
at once (or after a short wait, for an admin's upload) instead of queueing behind a flood.

The caller must hold no database transaction while this runs: a decode takes seconds, and a
transaction held meanwhile (SQLite's write lock) stalls every listener's heartbeat."""
from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

from audio.master import SILENT_LUFS

RATE = 44100
PROBE_SECONDS = 5
PROBE_BYTES = 5_000_000
# Decoding a sane recording runs far faster than real time; these bound a hostile one.
CPU_SECONDS_PER_AUDIO_SECOND = 0.05
MIN_CPU_SECONDS = 3
MEMORY_KB = 1024 * 1024


class Refused(Exception):
    """An upload that is not usable speech; str() is a Chinese message for the sender."""


class Busy(Exception):
    """Every decoding slot of this process is taken; str() asks to try again shortly."""


@dataclass(frozen=True)
class Limits:
    """What a kind of upload may be. `max_seconds` bounds the decode itself: the output is
    cut one second after it, so a longer file is known to be too long without decoding it
    all."""
    max_seconds: float
    min_seconds: float = 0.5
    max_rate: int = 96000
    max_channels: int = 2
    silent_lufs: float = SILENT_LUFS
    wait_seconds: float = 0.0  # how long to wait for a free slot (0: answer "busy" at once)


@dataclass(frozen=True)
class Header:
    container: str
    codec: str
    rate: int
    channels: int
    duration: float | None


@dataclass(frozen=True)
class Taken:
    """An accepted upload: `path` is the decoded mono FLAC, owned by the caller."""
    path: Path
    duration: float
    loudness: float
    header: Header


class Slots:
    """At most `size` decodes at once in this process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._semaphore = threading.BoundedSemaphore(size)

    @contextmanager
    def hold(self, wait: float) -> Iterator[None]:
        taken = self._semaphore.acquire(timeout=wait) if wait > 0 else self._semaphore.acquire(blocking=False)
        if not taken:
            raise Busy("现在处理录音的人太多，请过一会儿再发送")
        try:
            yield
        finally:
            self._semaphore.release()


DEFAULT_SLOTS = Slots(max(1, os.cpu_count() or 1))


def _limited(command: list[str], cpu_seconds: int) -> list[str]:
    """The command under CPU and memory limits set by the shell that execs it (no
    preexec_fn: forking a threaded server and running Python in the child can deadlock)."""
    return ["/bin/sh", "-c", f'ulimit -t {cpu_seconds} && ulimit -v {MEMORY_KB} && exec "$0" "$@"', *command]


_INPUT = re.compile(r"^Input #0, ([^,\s]+)", re.MULTILINE)
_DURATION = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_AUDIO = re.compile(r"Stream #0:\d+[^:]*: Audio: ([A-Za-z0-9_]+)[^,\n]*, (\d+) Hz, ([^,\n]+)")
_LOUDNESS = re.compile(r"I:\s+(-?[\d.]+|-inf)\s+LUFS")
_NAMED_LAYOUTS = {"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8}


def _channels(layout: str) -> int:
    layout = layout.strip()
    if match := re.match(r"(\d+) channels", layout):
        return int(match.group(1))
    base = layout.split("(")[0]
    if base in _NAMED_LAYOUTS:
        return _NAMED_LAYOUTS[base]
    if re.fullmatch(r"\d+(\.\d+){1,2}", base):
        return sum(int(part) for part in base.split("."))
    return 64  # a layout no recorder makes: treated as too many channels


def read_header(path: Path) -> Header:
    """The container and first audio stream as ffmpeg's demuxer sees them (reads only the
    first few MB, within a few seconds)."""
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-probesize", str(PROBE_BYTES),
               "-analyzeduration", str(PROBE_SECONDS * 1_000_000), "-i", str(path)]
    try:
        proc = subprocess.run(_limited(command, PROBE_SECONDS), capture_output=True, timeout=PROBE_SECONDS * 2)
    except subprocess.TimeoutExpired:
        raise Refused("无法识别这个录音文件：文件结构异常") from None
    text = proc.stderr.decode("utf-8", "replace")
    container, stream = _INPUT.search(text), _AUDIO.search(text)
    if container is None or stream is None:
        raise Refused("无法识别这个录音文件：不是声音文件，或者文件已损坏")
    duration = _DURATION.search(text)
    seconds = None
    if duration:
        h, m, s = duration.groups()
        seconds = int(h) * 3600 + int(m) * 60 + float(s)
    return Header(container.group(1), stream.group(1), int(stream.group(2)), _channels(stream.group(3)), seconds)


def _decoded_seconds(path: Path) -> float:
    from mutagen.flac import FLAC, FLACNoHeaderError

    try:
        return float(FLAC(path).info.length)
    except (FLACNoHeaderError, OSError):
        return 0.0


def take_in(source: Path, output: Path, limits: Limits, slots: Slots | None = None) -> Taken:
    """Check `source` by its content and decode it once to a mono FLAC at `output`.
    Raises Refused (with the reason in Chinese) or Busy; on either, `output` does not exist."""
    with (slots or DEFAULT_SLOTS).hold(limits.wait_seconds):
        header = read_header(source)
        if header.rate > limits.max_rate or header.rate < 4000:
            raise Refused(f"录音的采样率不对（{header.rate} Hz），请用手机或录音笔正常录音")
        if header.channels > limits.max_channels:
            raise Refused(f"录音的声道太多（{header.channels} 个），请用手机或录音笔正常录音")
        if header.duration is not None and header.duration > limits.max_seconds + 5:
            raise Refused(_too_long(limits.max_seconds, header.duration))
        stop_at = limits.max_seconds + 1
        cpu = max(MIN_CPU_SECONDS, int(stop_at * CPU_SECONDS_PER_AUDIO_SECOND * max(1, header.rate * header.channels // RATE)) + 1)
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-threads", "1",
                   "-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn", "-t", f"{stop_at:.3f}",
                   "-af", f"aformat=channel_layouts=mono:sample_rates={RATE},ebur128=framelog=quiet",
                   "-c:a", "flac", "-map_metadata", "-1", "-y", "-f", "flac", str(output)]
        try:
            proc = subprocess.run(_limited(command, cpu), capture_output=True, timeout=cpu * 2 + 5)
        except subprocess.TimeoutExpired:
            output.unlink(missing_ok=True)
            raise Refused("这个录音处理不了（解码时间过长），请重新录一段") from None
        text = proc.stderr.decode("utf-8", "replace")
        summary = _LOUDNESS.search(text[text.rfind("Summary:"):]) if "Summary:" in text else None
        if proc.returncode != 0 or summary is None:
            output.unlink(missing_ok=True)
            raise Refused("录音无法播放：不是录音文件，或者没有录完整，请重新录")
    duration = _decoded_seconds(output)
    loudness = float(summary.group(1)) if summary.group(1) != "-inf" else float("-inf")
    problem = check_recording(duration, loudness, limits)
    if problem:
        output.unlink(missing_ok=True)
        raise Refused(problem)
    return Taken(output, duration, loudness, header)


def check_recording(duration: float, loudness: float, limits: Limits) -> str | None:
    """What is wrong with a decoded recording (too long, too short, silent), in words for the
    person who recorded it; None when it may be kept. Every upload path asks this once, at
    the door (take_in)."""
    if duration > limits.max_seconds + 0.5:
        return _too_long(limits.max_seconds, None)
    if duration < limits.min_seconds:
        return "录音太短，请说一句完整的话再发送" if limits.min_seconds >= 1 else "录音太短（不到半秒），请重新录一段"
    if loudness < limits.silent_lufs:
        return "录音几乎没有声音（静音或音量太小），请靠近一点重新录"
    return None


def _too_long(limit: float, actual: float | None) -> str:
    said = f"{limit / 60:.0f} 分钟" if limit >= 120 else f"{limit:.0f} 秒"
    if actual is None:
        return f"录音太长，最多 {said}"
    heard = f"{actual / 60:.0f} 分钟" if actual >= 120 else f"{actual:.0f} 秒"
    return f"录音太长，最多 {said}（这一段有 {heard}）"

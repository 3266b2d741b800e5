"""Mastering: one track an 80-year-old can follow on a cheap speaker.

A track is a list of clips (speech segments, a recording, the spoken intro) and gaps
(pauses). Segments are decoded one at a time with pydub; the track is streamed as PCM through
ffmpeg twice: once to measure loudness (EBU R128
integrated loudness and true peak), once to apply the gain (and a limiter only when the gain
would push peaks too high) and encode MP3: mono, 44.1 kHz, constant bit rate. Only one clip is
in memory at a time, so a four-hour lesson costs no more memory than a short one.

The same encoding pass can also write the light file for one bar of signal: MP3 at 32 kbit/s,
mono, 22.05 kHz. MP3 rather than AAC: the ffmpeg we ship has no HE-AAC encoder, and AAC-LC in
MP4 must send its sample table (the moov box, ~150 KB for a 30-minute lesson, 25 s at 50 kbit/s)
before the first sound, where MP3 plays from its first frame and seeks by byte offset in every
phone browser (iOS Safari, Android Chrome, WeChat's browser).

Tags are ID3v2.3 with UTF-16 text (cheap players read nothing newer; UTF-8 exists only in
v2.4) and no ID3v1 (it cannot hold Chinese).
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import tempfile
import warnings
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import imageio_ffmpeg

from audio.mp3 import NotMp3, mp3_info
from audio.store import follow_umask

with warnings.catch_warnings():
    warnings.simplefilter("ignore", (RuntimeWarning, DeprecationWarning))  # no ffmpeg on PATH; audioop
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()

SAMPLE_RATE = 44100
TARGET_LUFS = -16.0
MAX_TRUE_PEAK = -1.5
# Sample-peak ceiling before encoding: 2 dB under the true-peak limit leaves room for
# inter-sample peaks, resampling and MP3 encoding.
LIMIT_DBFS = -3.5
# LAME's low-pass and psychoacoustic model take this much loudness from speech (measured).
ENCODER_LOSS_LU = 0.4
PAUSE_MS = {"clause": 350, "sentence": 650, "paragraph": 1000, "heading": 1400}
LEAD_IN_MS = 500
TAIL_MS = 1200
SILENT_LUFS = -60.0
BITRATES = (48, 56, 64, 80, 96, 112, 128)
LIGHT_KBPS = 32
LIGHT_RATE = 22050
# The light file's own correction stays small, so the limiter's ceiling still holds after it.
LIGHT_MAX_TRIM_DB = 2.0
CHUNK_FRAMES = 65536
SEGMENT_MAX_BYTES = 16 * 1024 * 1024  # a few minutes of speech: fine to hold in memory


class MasteringError(Exception):
    """Audio that cannot be mastered; str() is a Chinese message for the user."""


@dataclass(frozen=True)
class Clip:
    path: Path
    format: str  # "wav", "mp3", or anything ffmpeg can decode ("m4a", "amr", "ogg", ...)


@dataclass(frozen=True)
class Gap:
    ms: int


@dataclass(frozen=True)
class Mark:
    """A named point in a track: no sound, only its time is reported (Mastered.marks)."""
    name: str


Item = Clip | Gap | Mark


@dataclass(frozen=True)
class Tags:
    title: str
    album: str
    artist: str
    track: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class Loudness:
    integrated: float
    peak: float


@dataclass(frozen=True)
class Light:
    """The weak-signal copy of a mastered track (same audio, same loudness, fewer bytes)."""
    path: Path
    duration: float
    loudness: float
    size: int


@dataclass(frozen=True)
class Mastered:
    path: Path
    duration: float
    loudness: float
    peak: float
    sha256: str
    size: int
    light: Light | None = None
    marks: dict[str, float] = field(default_factory=dict)  # Mark name → seconds from the start


def ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


# --------------------------------------------------------------------------- decoding


def clip_rate(clip: Clip) -> int:
    """The clip's own sample rate, read without decoding where the format allows."""
    if clip.format == "wav":
        try:
            with wave.open(str(clip.path)) as wav:
                return wav.getframerate()
        except (wave.Error, EOFError) as exc:
            raise MasteringError("音频片段不是有效的 WAV 文件") from exc
    if clip.format == "mp3":
        try:
            return mp3_info(clip.path.read_bytes())[1]
        except NotMp3:
            return SAMPLE_RATE
    return SAMPLE_RATE


def _segment_pcm(clip: Clip, rate: int) -> bytes:
    """A speech segment through pydub: small enough to hold whole, and pydub gives one way
    to bring espeak's WAV and edge's MP3 to the same mono 16-bit PCM."""
    if clip.format == "mp3":
        segment = AudioSegment.from_file(clip.path, format="mp3", codec="mp3", parameters=["-ar", str(rate)])
    else:
        segment = AudioSegment.from_file(clip.path, format=clip.format)
    segment = segment.set_channels(1).set_sample_width(2)
    if segment.frame_rate != rate:
        segment = segment.set_frame_rate(rate)
    return segment.raw_data


def decode_pcm(clip: Clip, rate: int) -> Iterator[bytes]:
    """16-bit mono PCM at `rate`. Segments (small WAV/MP3) go through pydub; anything large
    (an hour-long recording) is streamed from ffmpeg so it is never all in memory."""
    if clip.format in ("wav", "mp3") and clip.path.stat().st_size <= SEGMENT_MAX_BYTES:
        try:
            yield _segment_pcm(clip, rate)
        except CouldntDecodeError as exc:
            raise MasteringError("无法解码音频片段") from exc
        return
    command = [ffmpeg(), "-v", "error", "-nostdin"]
    if clip.format == "mp3":
        command += ["-f", "mp3"]
    command += ["-i", str(clip.path), "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le", "pipe:1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        while chunk := proc.stdout.read(CHUNK_FRAMES * 2):
            yield chunk
        error = proc.stderr.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise MasteringError(f"无法解码音频（{error.strip().splitlines()[-1] if error.strip() else '未知格式'}）")


def pcm_stream(items: Sequence[Item], rate: int, marks: dict[str, float] | None = None) -> Iterator[bytes]:
    """The items as one PCM stream; each Mark's time is written into `marks` as it passes."""
    frames = 0
    for item in items:
        if isinstance(item, Mark):
            if marks is not None:
                marks[item.name] = frames / rate
            continue
        if isinstance(item, Gap):
            remaining = rate * item.ms // 1000
            frames += remaining
            while remaining > 0:
                chunk = min(remaining, CHUNK_FRAMES)
                yield b"\x00\x00" * chunk
                remaining -= chunk
        else:
            for pcm in decode_pcm(item, rate):
                frames += len(pcm) // 2
                yield pcm


def working_rate(items: Sequence[Item]) -> int:
    """Work at the highest rate any clip has, so no clip is degraded before the final
    resample, and matching WAV segments (all of a TTS render) need no ffmpeg at all."""
    rates = [clip_rate(item) for item in items if isinstance(item, Clip)]
    if not rates:
        raise MasteringError("没有任何声音可以处理")
    return max(rates)


# --------------------------------------------------------------------------- ffmpeg passes


def _run_with_pcm(items, rate: int, filters: str, output: list[str],
                  marks: dict[str, float] | None = None) -> tuple[str, int]:
    """Feed the PCM stream to ffmpeg; returns (stderr, frames fed)."""
    command = [ffmpeg(), "-hide_banner", "-nostats", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
               "-af", filters, *output]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        stdin = cast(IO[bytes], proc.stdin)  # always a pipe: stdin=PIPE above
        fed = 0
        try:
            for chunk in pcm_stream(items, rate, marks):
                stdin.write(chunk)
                fed += len(chunk) // 2
        except BrokenPipeError:
            pass
        finally:
            stdin.close()
            proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise MasteringError(f"音频处理失败：{stderr.strip().splitlines()[-1] if stderr.strip() else proc.returncode}")
    return stderr, fed


def _ebur128_summary(stderr: str) -> Loudness:
    summary = stderr[stderr.rfind("Summary:"):]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf|nan)\s+LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf|nan)\s+dBFS", summary)
    if not integrated:
        raise MasteringError("响度测量失败")
    value = float(integrated.group(1))
    return Loudness(value if math.isfinite(value) else -math.inf, float(peak.group(1)) if peak else -math.inf)


def measure(items: Sequence[Item], rate: int | None = None, chain: Sequence[str] = (), *, true_peak: bool = False) -> Loudness:
    """EBU R128 integrated loudness and peak of the track as joined (after `chain`).

    Sample peak by default: true peak upsamples 4x and costs three times as much; the limiter
    ceiling leaves room for the difference."""
    rate = rate or working_rate(items)
    meter = f"ebur128=peak={'true' if true_peak else 'sample'}:framelog=quiet"
    stderr, _ = _run_with_pcm(items, rate, ",".join([*chain, meter]), ["-f", "null", "-"])
    return _ebur128_summary(stderr)


def measure_file(path: Path) -> Loudness:
    """Loudness of an encoded file, read by ffmpeg itself (no decode relay through Python)."""
    proc = subprocess.run(
        [ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=sample:framelog=quiet",
         "-f", "null", "-"],
        capture_output=True, text=True, errors="replace",
    )
    if proc.returncode != 0:
        raise MasteringError("响度测量失败")
    return _ebur128_summary(proc.stderr)


def _gain_chain(items, rate: int, raw: Loudness, target: float) -> list[str]:
    """Filters that bring the track to `target` LUFS with its peaks under LIMIT_DBFS.

    Plain gain when the peaks allow it (exact, no extra pass). Otherwise a limiter after the
    gain; limiting lowers loudness by an amount that depends on the gain, so the gain is found
    by the secant method on measured passes. Peaks stay under the ceiling whatever the gain."""
    gain = target - raw.integrated
    if raw.peak + gain <= LIMIT_DBFS:
        return [f"volume={gain:.2f}dB"]
    limiter = f"alimiter=limit={10 ** (LIMIT_DBFS / 20):.4f}:level=0:attack=2:release=80"
    # First guess: limiting speech costs about half a unit of loudness per dB of peaks cut.
    gain += 0.5 * (raw.peak + gain - LIMIT_DBFS)
    tried: list[tuple[float, float]] = []
    for _ in range(5):
        chain = [f"volume={gain:.2f}dB", limiter]
        reached = measure(items, rate, chain).integrated
        if abs(reached - target) <= 0.3:
            break
        tried.append((gain, reached))
        if len(tried) >= 2 and tried[-1][1] != tried[-2][1]:
            (g0, l0), (g1, l1) = tried[-2], tried[-1]
            gain = g1 + (target - l1) * (g1 - g0) / (l1 - l0)
        else:
            gain += 2 * (target - reached)  # limiting roughly halves each dB added
        gain = min(gain, 40.0)
    return chain


def _mp3_output(path: Path, rate: int, bitrate_kbps: int) -> list[str]:
    return ["-ac", "1", "-ar", str(rate), "-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k",
            "-id3v2_version", "0", "-write_id3v1", "0", "-f", "mp3", "-y", str(path)]


def _encode(items, rate: int, chain: list[str], path: Path, bitrate_kbps: int,
            light: tuple[Path, float] | None = None, marks: dict[str, float] | None = None) -> int:
    """One pass over the PCM: the main MP3 and, when asked, the light one (trimmed by its own
    gain, since LAME's lower low-pass at 32 kbit/s takes a little more loudness)."""
    output = _mp3_output(path, SAMPLE_RATE, bitrate_kbps)
    if light is not None:
        light_path, trim = light
        output += ["-af", ",".join([*chain, f"volume={trim:.2f}dB", f"aresample={LIGHT_RATE}"]),
                   *_mp3_output(light_path, LIGHT_RATE, LIGHT_KBPS)]
    _, frames = _run_with_pcm(items, rate, ",".join([*chain, f"aresample={SAMPLE_RATE}"]), output, marks)
    return frames


def master(
    items: Sequence[Item],
    out_path: Path,
    tags: Tags,
    *,
    bitrate_kbps: int = 64,
    max_seconds: float | None = None,
    light: bool = False,
) -> Mastered:
    """Join, normalise to −16 LUFS with true peak ≤ −1.5 dBTP, encode CBR MP3, tag; with
    `light`, the weak-signal MP3 too, from the same pass (never a second synthesis or decode).

    The loudness recorded is measured on the encoded MP3 itself; when encoding moved it more
    than half a unit from the target (LAME's filtering takes about 0.4 LU from speech), the
    track is encoded once more with the gain corrected — the light file by its own trim."""
    if bitrate_kbps not in BITRATES:
        raise MasteringError(f"码率只能是 {'、'.join(map(str, BITRATES))} kbit/s 之一")
    rate = working_rate(items)
    raw = measure(items, rate)
    if raw.integrated < SILENT_LUFS:
        raise MasteringError("这段音频几乎没有声音（太安静或是静音），请检查录音")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(out_path.parent)
    light_tmp = _temporary(out_path.parent) if light else None
    try:
        target, trim = TARGET_LUFS + ENCODER_LOSS_LU, 0.0
        light_result: Loudness | None = None
        marks: dict[str, float] = {}
        for _ in range(2):
            frames = _encode(items, rate, _gain_chain(items, rate, raw, target), tmp, bitrate_kbps,
                             (light_tmp, trim) if light_tmp else None, marks)
            duration = frames / rate
            if max_seconds is not None and duration > max_seconds:
                raise MasteringError(f"音频太长（{duration / 60:.0f} 分钟），上限是 {max_seconds / 60:.0f} 分钟")
            result = measure_file(tmp)
            light_result = measure_file(light_tmp) if light_tmp else None
            light_off = light_result.integrated - result.integrated if light_result else 0.0
            if abs(result.integrated - TARGET_LUFS) <= 0.5 and abs(light_off) <= 0.3:
                break
            target += TARGET_LUFS - result.integrated
            trim = max(-LIGHT_MAX_TRIM_DB, min(LIGHT_MAX_TRIM_DB, trim - light_off))
        done_light = None
        if light_tmp is not None and light_result is not None:
            write_tags(light_tmp, tags)
            light_duration = mp3_info(light_tmp.read_bytes())[0]
            light_path = _publish(light_tmp, out_path.with_suffix(".light.mp3"))
            done_light = Light(light_path, light_duration, light_result.integrated, light_path.stat().st_size)
        write_tags(tmp, tags)
        _publish(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        if light_tmp is not None:
            light_tmp.unlink(missing_ok=True)
        raise
    with open(out_path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return Mastered(out_path, duration, result.integrated, result.peak, digest, out_path.stat().st_size, done_light,
                    marks)


def light_copy(main: Path, out_path: Path) -> Light:
    """The light file of a track mastered before light files existed, from its main MP3 (the
    only copy left), trimmed to the main file's measured loudness."""
    loudness = measure_file(main)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(out_path.parent)
    try:
        trim = 0.0
        for _ in range(2):
            proc = subprocess.run([ffmpeg(), "-v", "error", "-nostdin", "-i", str(main), "-af", f"volume={trim:.2f}dB", *_mp3_output(tmp, LIGHT_RATE, LIGHT_KBPS)],
                                  capture_output=True, text=True, errors="replace")
            if proc.returncode != 0:
                raise MasteringError("无法生成省流量版本")
            result = measure_file(tmp)
            off = result.integrated - loudness.integrated
            if abs(off) <= 0.3:
                break
            trim = max(-LIGHT_MAX_TRIM_DB, min(LIGHT_MAX_TRIM_DB, trim - off))
        duration = mp3_info(tmp.read_bytes())[0]
        from mutagen.id3 import ID3

        ID3(str(main)).save(str(tmp), v2_version=3, v1=0)
        _publish(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Light(out_path, duration, result.integrated, out_path.stat().st_size)


def _temporary(folder: Path) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".mp3")
    os.close(fd)
    return Path(name)


def _publish(tmp: Path, path: Path) -> Path:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    follow_umask(tmp)
    os.replace(tmp, path)
    return path


def write_tags(path: Path, tags: Tags) -> None:
    from mutagen.id3 import ID3, TALB, TCON, TIT2, TPE1, TRCK

    id3 = ID3()
    id3.add(TIT2(encoding=1, text=tags.title))
    id3.add(TALB(encoding=1, text=tags.album))
    id3.add(TPE1(encoding=1, text=tags.artist))
    id3.add(TCON(encoding=1, text="Speech"))
    if tags.track is not None:
        id3.add(TRCK(encoding=1, text=f"{tags.track}/{tags.total}" if tags.total else str(tags.track)))
    id3.save(str(path), v2_version=3, v1=0)


# --------------------------------------------------------------------------- track layout


def track_items(
    segments: Sequence,
    *,
    intro: Sequence = (),
    closing: Sequence = (),
    question: Sequence[Sequence] = (),
    pause_ms: dict[str, int] | None = None,
) -> list[Item]:
    """Lay out a lesson: lead-in, intro, heading-length pause, segments with pauses by kind,
    the question after the lesson, a paragraph pause and the closing line, tail. Segments need
    path, format and pause. `question` is the question's parts (the question, each answer, the
    closing request), each spoken apart and framed by Marks q<n> and q<n>-end."""
    pauses = {**PAUSE_MS, **(pause_ms or {})}
    items: list[Item] = [Gap(LEAD_IN_MS)]
    for segment in intro:
        items.append(Clip(segment.path, segment.format))
    if intro:
        items.append(Gap(pauses["heading"]))
    for index, segment in enumerate(segments):
        items.append(Clip(segment.path, segment.format))
        if index < len(segments) - 1:
            items.append(Gap(pauses[segment.pause]))
    items += question_items(question, pauses)
    if closing:
        items.append(Gap(pauses["paragraph"]))
        items.extend(Clip(segment.path, segment.format) for segment in closing)
    items.append(Gap(TAIL_MS))
    return items


def question_items(parts: Sequence[Sequence], pauses: dict[str, int] | None = None) -> list[Item]:
    """听后一问 after a lesson (synthetic or recorded): a heading pause, then each part with a
    sentence pause between, every part between its Marks."""
    pauses = {**PAUSE_MS, **(pauses or {})}
    items: list[Item] = []
    for number, part in enumerate(parts):
        items.append(Gap(pauses["heading"] if number == 0 else pauses["sentence"]))
        items.append(Mark(f"q{number}"))
        for index, segment in enumerate(part):
            if index:
                items.append(Gap(pauses[part[index - 1].pause]))
            items.append(Clip(segment.path, segment.format))
        items.append(Mark(f"q{number}-end"))
    return items


def mark_spans(marks: dict[str, float], parts: int) -> list[list[float]]:
    """[[start, end], ...] of each question part, rounded to milliseconds."""
    return [[round(marks[f"q{n}"], 3), round(marks[f"q{n}-end"], 3)] for n in range(parts)]

"""Joining spoken segments into one track: pauses by kind, MP3 export through ffmpeg.

ffmpeg comes from the imageio-ffmpeg wheel so pip alone suffices; it has no ffprobe, so MP3 is
always decoded with an explicit codec.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import imageio_ffmpeg

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # pydub warns when ffmpeg is not on PATH
    from pydub import AudioSegment

AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()

SAMPLE_RATE = 44100
PAUSE_MS = {"clause": 350, "sentence": 600, "paragraph": 1000, "heading": 1400}


def load(path: Path, fmt: str) -> AudioSegment:
    if fmt == "mp3":
        audio = AudioSegment.from_file(path, format="mp3", codec="mp3")
    else:
        audio = AudioSegment.from_file(path, format=fmt)
    return audio.set_channels(1).set_frame_rate(SAMPLE_RATE)


def join(segments: Sequence, pause_ms: dict[str, int] | None = None) -> AudioSegment:
    """Segments (anything with path, format, pause) → one mono 44.1 kHz track; no pause after
    the last segment."""
    pauses = {**PAUSE_MS, **(pause_ms or {})}
    track = AudioSegment.silent(0, frame_rate=SAMPLE_RATE)
    for index, segment in enumerate(segments):
        track += load(segment.path, segment.format)
        if index < len(segments) - 1:
            track += AudioSegment.silent(pauses[segment.pause], frame_rate=SAMPLE_RATE)
    return track


def export_mp3(track: AudioSegment, path: Path, bitrate: str = "64k") -> None:
    track.export(
        path, format="mp3", bitrate=bitrate, id3v2_version="3",
        parameters=["-ac", "1", "-ar", str(SAMPLE_RATE)],
    )

"""Independent measurements of finished audio: pyloudnorm, ffmpeg's ebur128, Debian's
ffprobe and mutagen, none of which the product uses to make the audio."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pyloudnorm

from tests.helpers.tools import require_tool


def decode(path: Path, rate: int = 44100) -> np.ndarray:
    pcm = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(rate), "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(pcm, dtype=np.float32)


def loudness(path: Path) -> float:
    return float(pyloudnorm.Meter(44100).integrated_loudness(decode(path).astype(np.float64)))


def true_peak(path: Path) -> float:
    stderr = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path),
         "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        capture_output=True, text=True,
    ).stderr
    return float(re.search(r"Peak:\s+(-?[\d.]+|-inf)\s+dBFS", stderr[stderr.rfind("Summary:"):]).group(1))


def ffprobe(path: Path) -> dict:
    tool = require_tool("ffprobe")
    out = subprocess.run(
        [tool, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def envelope(samples: np.ndarray, rate: int = 44100, frame_ms: int = 20) -> np.ndarray:
    """Loudness contour in dB: its shape survives gain changes and the limiter."""
    frame = rate * frame_ms // 1000
    usable = len(samples) // frame * frame
    rms = np.sqrt((samples[:usable].reshape(-1, frame) ** 2).mean(axis=1))
    return 20 * np.log10(rms + 1e-3)


def best_correlation(needle: np.ndarray, haystack: np.ndarray) -> float:
    """Highest normalised correlation of two loudness envelopes over all offsets."""
    a = (needle - needle.mean()) / (needle.std() or 1)
    best = -1.0
    for offset in range(0, max(1, len(haystack) - len(a) + 1)):
        window = haystack[offset:offset + len(a)]
        if len(window) < len(a):
            break
        b = (window - window.mean()) / (window.std() or 1)
        best = max(best, float((a * b).mean()))
    return best

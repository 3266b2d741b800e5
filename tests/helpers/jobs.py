"""Running queued jobs to the end in the test's own thread, and inputs for the audio pipeline."""
from __future__ import annotations

import subprocess
from pathlib import Path

from app import settings_of
from audio.engines import SpeechRequest
from audio.engines.espeak import EspeakEngine
from audio.voices import get_voice
from core.models import Lesson, Rendition
from core.rendering import request_render
from core.storage import open_store, track_key
from core.worker import InProcessRunner


def run_jobs(app) -> None:
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()


def rendition_file(app, rendition_id: int) -> Path:
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        assert rendition.status == "done", rendition.error
        return open_store(settings_of(app)).local_path(track_key(rendition.file_path))


def render(app, lesson_id: int = 1, **options) -> int:
    with app.extensions["xiangyin.db"].session() as session:
        rendition, _ = request_render(session, session.get(Lesson, lesson_id), settings_of(app), **options)
        rendition_id = rendition.id
    run_jobs(app)
    return rendition_id


def speech_file(tmp_path: Path, name: str, gain_db: float = 0.0, codec: list[str] | None = None) -> Path:
    text = "各位乡亲，大家好，今天我用重庆话给大家读一段学习材料，请大家认真听。"
    wav = EspeakEngine().synthesize(SpeechRequest(text, get_voice("offline-mandarin"))).data
    out = tmp_path / name
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "wav", "-i", "pipe:0", "-af", f"volume={gain_db}dB",
         *(codec or []), "-y", str(out)],
        input=wav, check=True,
    )
    return out

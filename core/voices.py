"""The voice menu as admins and the CLI see it: every voice with whether it can speak now
and, when not, why — in plain Chinese (no exception names)."""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from audio.engines import Engine, EngineError, SpeechConfig, build_engines, engine_classes
from audio.master import Tags, master, track_items
from audio.speech import Speaker, backup_voice, build_speaker
from audio.voices import Voice, all_voices, get_voice
from core.errors import Conflict
from core.settings import Settings

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class VoiceChoice:
    voice: Voice
    usable: bool
    reason: str


@lru_cache(maxsize=8)
def engines_for(config: SpeechConfig) -> dict[str, Engine]:
    """One set of engines per configuration and process: the online check and loaded models
    are shared by every page."""
    return build_engines(config)


def voice_status(settings: Settings, voice: Voice) -> tuple[bool, str]:
    return engines_for(settings.speech)[voice.engine].voice_availability(voice)


def voice_menu(settings: Settings) -> list[tuple[str, list[VoiceChoice]]]:
    """Every voice, grouped by what it needs, each with whether it can speak now."""
    choices = [VoiceChoice(voice, *voice_status(settings, voice)) for voice in all_voices()]
    return [(cls.menu_group, [c for c in choices if c.voice.engine == name]) for name, cls in engine_classes().items()
            if any(c.voice.engine == name for c in choices)]


class VoiceUnusable(Conflict):
    """A voice that cannot speak now; str() says why and what to pick instead."""


def require_usable(settings: Settings, voice: Voice) -> None:
    """The one decision whether a render in this voice may start now, as VoiceUnusable.
    request_render asks it for every caller: web forms, packs and regenerate refuse on it;
    the command line warns and lets the stand-in voice speak."""
    message = unusable_message(settings, voice)
    if message:
        raise VoiceUnusable(message)


def speaker_for(settings: Settings, fallback: str | None = None) -> Speaker:
    """The one way to a Speaker: this process's engines for the configuration (their online
    check and loaded models shared), the segment cache, the configured fallback unless
    `fallback` says otherwise ("fail" for a sample that must be the voice asked for)."""
    return build_speaker(settings.speech, engines_for(settings.speech), fallback)


def unusable_message(settings: Settings, voice: Voice) -> str | None:
    """Why a render in this voice cannot start now and what to pick instead; None when it can."""
    usable, reason = voice_status(settings, voice)
    if usable:
        return None
    instead = backup_voice(engines_for(settings.speech), voice)
    return f"「{voice.label}」现在用不了：{reason}。可以改选「{instead.label}」，或等问题解决后再生成。"


# What the 试听 button says: short, every-day words (a small model's lexicon knows them).
SAMPLE_TEXT = "各位党员同志，大家好。今天我们一起学习。"


def voice_sample(settings: Settings, voice_id: str) -> Path:
    """A short MP3 of this voice, so admins choose by ear. Spoken once through the segment
    cache and mastered once per voice and model; never another voice in its place."""
    voice = get_voice(voice_id)
    message = unusable_message(settings, voice)
    if message:
        raise Conflict(message)
    speaker = speaker_for(settings, fallback="fail")
    try:
        result = speaker.render(SAMPLE_TEXT, voice.id, rate=settings.default_rate)
    except EngineError as exc:
        log.warning("voice sample of %s failed: %s", voice.id, exc)
        raise Conflict(f"「{voice.label}」现在读不出试听片段，请稍后再试") from None
    key = hashlib.sha256("\n".join(s.path.name for s in result.segments).encode()).hexdigest()[:32]
    path = settings.paths.cache / "samples" / f"{key}.mp3"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{key}.{uuid.uuid4().hex}.part.mp3")
        try:
            master(track_items(result.segments), partial, Tags(title=f"试听 · {voice.label}", album="试听",
                                                                artist=settings.org_name))
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    return path

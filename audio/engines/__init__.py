"""Speech engines behind one small interface, and the registry that builds them.

An engine turns one segment of normalised text into audio. It declares how many UTF-8 bytes
one request may carry, its native sample rate and output format, a version string (part of the
cache key, so an engine upgrade never serves stale audio) and whether it can be used now.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from audio.voices import Voice


class EngineError(Exception):
    """A segment could not be spoken; str() is a Chinese message for the admin."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached at all (offline, outage, throttled for good): the caller
    may fall back to another engine."""


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: Voice
    rate: int = 0  # percent relative to the engine's normal pace, e.g. -10
    pitch: int = 0  # Hz

    @property
    def rate_str(self) -> str:
        return f"{self.rate:+d}%"

    @property
    def pitch_str(self) -> str:
        return f"{self.pitch:+d}Hz"


@dataclass(frozen=True)
class SpeechAudio:
    data: bytes
    format: str  # "mp3" or "wav"
    duration: float


def pcm_wav(pcm: bytes, rate: int) -> bytes:
    """16-bit mono PCM as a WAV file: what the offline engines hand to the cache."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def parse_rate(value: str | int) -> int:
    """Accept -10, "-10", "-10%" → -10; bounded so nobody asks for unintelligible speech."""
    if isinstance(value, int):
        rate = value
    else:
        match = re.fullmatch(r"\s*([+-]?\d{1,3})\s*%?\s*", str(value))
        if not match:
            raise ValueError(f"语速格式不对：{value!r}，应类似 -10% 或 +5%")
        rate = int(match.group(1))
    if not -50 <= rate <= 50:
        raise ValueError(f"语速 {rate:+d}% 超出范围（-50% 到 +50%）")
    return rate


@dataclass(frozen=True)
class EdgeConfig:
    enabled: bool = True
    # Empty: the public service; tests point it at a local fake.
    url: str = ""
    concurrency: int = 3
    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0


@dataclass(frozen=True)
class SpeechConfig:
    """What the speech pipeline is told by the installation's settings (core builds it);
    typed here so audio/ needs nothing from core/."""

    cache_dir: Path
    fallback: str = "offline"
    lesson_deadline: float = 900.0
    outage_pause: float = 300.0
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    # Where admins put offline neural model folders (audio/voice_folders.py).
    voices_dir: Path | None = None


class Engine(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    # What the rest of the service knows of an engine, read from here and nowhere else: the
    # voice menu's group and its place, whether it needs the internet, and whether its voices
    # may say a lesson another engine's voice cannot (before the espeak-ng last resort).
    menu_group: ClassVar[str]
    menu_rank: ClassVar[int]
    online: ClassVar[bool] = False
    stands_in: ClassVar[bool] = False
    byte_limit: ClassVar[int]
    sample_rate: ClassVar[int]
    audio_format: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_config(cls, config: SpeechConfig) -> Engine: ...

    @property
    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """(usable now, Chinese explanation)."""

    def voice_availability(self, voice: Voice) -> tuple[bool, str]:
        """Whether this voice can speak now; engines whose voices differ (model folders) say
        more than the engine as a whole."""
        return self.availability()

    def cache_version(self, voice: Voice) -> str:
        """What, besides the text and the voice's settings, changes this voice's audio: part
        of the segment cache key."""
        return self.version

    def realise(self, text: str, voice: Voice, readings: Mapping[str, str]) -> str:
        """The text this voice is given for a segment, the lexicon's chosen readings (spoken
        form → tone-number pinyin) said this engine's way. A voice that reads only characters
        says the same-sound spelling already in the text, as the preview shows it."""
        return text

    @abstractmethod
    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        """Speak one segment completely, or raise EngineError; never partial audio."""

    def synthesize_many(
        self,
        requests: Sequence[SpeechRequest],
        on_result: Callable[[int, SpeechAudio], None],
        *,
        deadline: float | None = None,
        judge: Callable[[SpeechRequest, SpeechAudio], str | None] | None = None,
    ) -> None:
        """Speak several segments; on_result(index, audio) as each completes. Engines that can
        work in parallel override this. `judge` says what is wrong with a reply (None: it is
        fine); an engine whose replies can come back cut short (an online service) asks again
        and gives up as unavailable, the others speak the same text the same way every time
        and need not ask."""
        import time

        for index, request in enumerate(requests):
            if deadline is not None and time.monotonic() > deadline:
                raise EngineError("合成超时：整课的时限已到")
            on_result(index, self.synthesize(request))


def substitute(text: str, readings: Mapping[str, str], say: Callable[[str, str], str]) -> str:
    """Each spoken form of `readings` in `text` replaced by say(spoken, pinyin), longest first,
    in one pass."""
    keys = sorted((key for key in readings if key and key in text), key=len, reverse=True)
    if not keys:
        return text
    return re.sub("|".join(re.escape(key) for key in keys), lambda m: say(m.group(0), readings[m.group(0)]), text)


def engine_classes() -> dict[str, type[Engine]]:
    """Every engine by name, in menu order; a new engine is one class and one entry here."""
    from audio.engines.edge import EdgeEngine
    from audio.engines.espeak import EspeakEngine
    from audio.engines.sherpa import SherpaEngine

    engines: list[type[Engine]] = [EdgeEngine, EspeakEngine, SherpaEngine]
    return {cls.name: cls for cls in sorted(engines, key=lambda cls: cls.menu_rank)}


def build_engines(config: SpeechConfig) -> dict[str, Engine]:
    from audio.voices import use_voices_dir

    use_voices_dir(config.voices_dir)
    return {name: cls.from_config(config) for name, cls in engine_classes().items()}

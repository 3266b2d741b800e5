"""Lesson text → spoken segments on disk, through the cache, with fallback between engines.

The result says which engine and voice actually spoke: when the online service is out and
the render falls back to the offline voice, the rendition must not be labelled as the online
voice the admin asked for.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from audio.cache import SegmentCache, plausible_duration
from audio.engines import Engine, EngineError, EngineUnavailable, SpeechAudio, SpeechRequest
from audio.text import Segment, segment_text
from audio.voices import Voice, get_voice

FALLBACK_POLICIES = ("offline", "fail")


@dataclass(frozen=True)
class SpokenSegment:
    text: str
    pause: str
    path: Path
    format: str
    duration: float


@dataclass
class SpeechResult:
    requested: Voice
    voice: Voice
    engine: str
    rate: int
    segments: list[SpokenSegment]
    engine_calls: int = 0
    cache_hits: int = 0
    fallback_reason: str | None = None

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)


@dataclass
class Speaker:
    engines: Mapping[str, Engine]
    cache: SegmentCache
    fallback: str = "offline"
    lesson_deadline: float = 900.0
    clock: Callable[[], float] = field(default=time.monotonic)

    def render(
        self,
        text: str,
        voice_id: str,
        *,
        rate: int = 0,
        pitch: int = 0,
        lexicon: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SpeechResult:
        """Speak a lesson; raises EngineError (Chinese message) when it cannot be done."""
        requested = get_voice(voice_id)
        try:
            return self._render(text, requested, requested, rate, pitch, lexicon, progress)
        except EngineUnavailable as exc:
            if self.fallback != "offline" or not requested.fallback:
                raise
            backup = get_voice(requested.fallback)
            result = self._render(text, requested, backup, rate, pitch, lexicon, progress)
            result.fallback_reason = str(exc)
            return result

    def _render(self, text, requested, voice, rate, pitch, lexicon, progress) -> SpeechResult:
        engine = self.engines[voice.engine]
        segments: list[Segment] = segment_text(text, engine.byte_limit, lexicon=lexicon)
        if not segments:
            raise EngineError("这一课没有可以朗读的文字")
        keys = [
            SegmentCache.key(s.text, engine.name, voice.engine_voice, rate, pitch, engine.version) for s in segments
        ]
        done: list[SpokenSegment | None] = [None] * len(segments)
        missing = []
        for index, (segment, key) in enumerate(zip(segments, keys)):
            cached = self.cache.get(key, segment.text)
            if cached:
                done[index] = SpokenSegment(segment.text, segment.pause, cached.path, cached.format, cached.duration)
            else:
                missing.append(index)
        hits = len(segments) - len(missing)
        if progress:
            progress(hits, len(segments))

        def store(position: int, audio: SpeechAudio) -> None:
            index = missing[position]
            segment = segments[index]
            if not plausible_duration(segment.text, audio.duration):
                raise EngineError(f"合成的声音长度不合理（{audio.duration:.1f} 秒）：{segment.text[:20]}……")
            cached = self.cache.put(keys[index], audio)
            done[index] = SpokenSegment(segment.text, segment.pause, cached.path, cached.format, cached.duration)
            if progress:
                progress(sum(1 for item in done if item is not None), len(segments))

        requests = [SpeechRequest(segments[i].text, voice, rate, pitch) for i in missing]
        engine.synthesize_many(requests, store, deadline=self.clock() + self.lesson_deadline)
        return SpeechResult(
            requested=requested,
            voice=voice,
            engine=engine.name,
            rate=rate,
            segments=[item for item in done if item is not None],
            engine_calls=len(missing),
            cache_hits=hits,
        )


def build_speaker(settings: Mapping) -> Speaker:
    """A Speaker with every registered engine and the data directory's segment cache."""
    from audio.engines import build_engines

    return Speaker(
        engines=build_engines(settings),
        cache=SegmentCache(Path(settings["DATA_DIR"]) / "cache" / "segments"),
        fallback=settings["SPEECH_FALLBACK"],
        lesson_deadline=float(settings["LESSON_DEADLINE"]),
    )

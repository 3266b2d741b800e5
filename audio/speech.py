"""Lesson text → spoken segments on disk, through the cache, with fallback between engines.

The result says which engine and voice actually spoke: when the online service is out and
the render falls back to the offline voice, the rendition must not be labelled as the online
voice the admin asked for.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from audio.cache import SegmentCache, too_short
from audio.engines import Engine, EngineError, EngineUnavailable, SpeechAudio, SpeechConfig, SpeechRequest
from audio.segment import Segment, segment_text
from audio.text import chosen_readings
from audio.voices import Voice, all_voices, get_voice

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
    """Speaks lessons through the engines, falling back to the offline voice of the same
    language when the online service is out.

    An outage seen once opens a circuit for `outage_pause` seconds: lessons rendered
    meanwhile go straight to the fallback instead of each waiting out the timeouts again
    (with hanging connections that was two minutes a lesson). After the pause the next
    lesson tries the service again."""

    engines: Mapping[str, Engine]
    cache: SegmentCache
    fallback: str = "offline"
    lesson_deadline: float = 900.0
    outage_pause: float = 300.0
    clock: Callable[[], float] = field(default=time.monotonic)
    _out_until: dict[str, tuple[float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def render(
        self,
        text: str,
        voice_id: str,
        *,
        rate: int = 0,
        pitch: int = 0,
        lexicon: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        addresses: bool = True,
    ) -> SpeechResult:
        """Speak a lesson; raises EngineError (Chinese message) when it cannot be done.
        `addresses` False leaves web and e-mail addresses unread (the series says 不读)."""
        requested = get_voice(voice_id)
        can_fall_back = self.fallback == "offline" and bool(requested.fallback)
        circuit = requested.engine + requested.folder
        outage = self._outage(circuit) if can_fall_back else None
        if outage is None:
            try:
                result = self._render(text, requested, requested, rate, pitch, lexicon, progress, addresses)
            except EngineUnavailable as exc:
                if not can_fall_back:
                    raise
                outage = str(exc)
                with self._lock:
                    self._out_until[circuit] = (self.clock() + self.outage_pause, outage)
            else:
                with self._lock:
                    self._out_until.pop(circuit, None)
                return result
        backup = self.backup_voice(requested)
        result = self._render(text, requested, backup, rate, pitch, lexicon, progress, addresses)
        result.fallback_reason = outage
        return result

    def render_track(
        self,
        parts: list[str | None],
        voice_id: str,
        *,
        main: int,
        rate: int = 0,
        lexicon: Mapping[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        addresses: bool = True,
    ) -> list[SpeechResult | None]:
        """Speak the parts of one track (intro, lesson, closing) in one voice: when any part
        has to fall back, every part is said again by the fallback voice (mostly from the
        cache), so a track never mixes an online lesson with an offline intro."""
        results = self._parts(parts, voice_id, main, rate, lexicon, progress, addresses)
        fell_back = next((r for r in results if r is not None and r.voice.id != voice_id), None)
        if fell_back is None:
            return results
        again = self._parts(parts, fell_back.voice.id, main, rate, lexicon, progress, addresses)
        for result in again:
            if result is not None:
                result.requested, result.fallback_reason = get_voice(voice_id), fell_back.fallback_reason
        return again

    def _parts(self, parts, voice_id, main, rate, lexicon, progress, addresses) -> list[SpeechResult | None]:
        return [self.render(text, voice_id, rate=rate, lexicon=lexicon, progress=progress if index == main else None,
                            addresses=addresses)
                if text else None for index, text in enumerate(parts)]

    def backup_voice(self, requested: Voice) -> Voice:
        return backup_voice(self.engines, requested)

    def _outage(self, engine: str) -> str | None:
        """The reason the engine is considered out, while its pause lasts."""
        with self._lock:
            until, reason = self._out_until.get(engine, (0.0, ""))
        return reason if self.clock() < until else None

    def _render(self, text, requested, voice, rate, pitch, lexicon, progress, addresses=True) -> SpeechResult:
        engine = self.engines[voice.engine]
        version = engine.cache_version(voice)
        segments: list[Segment] = segment_text(text, engine.byte_limit, lexicon=lexicon, language=voice.language,
                                               addresses=addresses)
        if not segments:
            raise EngineError("这一课没有可以朗读的文字")
        chosen = chosen_readings(lexicon)
        given = [engine.realise(s.text, voice, chosen) for s in segments]
        keys = [SegmentCache.key(said, engine.name, voice.engine_voice, rate, pitch, version) for said in given]
        paces = self.cache.paces
        voice_key = f"{engine.name}|{voice.engine_voice}|{rate}|{pitch}|{version}"
        done: list[SpokenSegment | None] = [None] * len(segments)
        missing = []
        for index, (segment, key) in enumerate(zip(segments, keys)):
            cached = self.cache.get(key, segment.text, paces.expected(voice_key, segment.text))
            if cached:
                done[index] = SpokenSegment(segment.text, segment.pause, cached.path, cached.format, cached.duration)
            else:
                missing.append(index)
        hits = len(segments) - len(missing)
        if progress:
            progress(hits, len(segments))

        def judge(request: SpeechRequest, audio: SpeechAudio) -> str | None:
            return too_short(request.text, audio.duration, paces.expected(voice_key, request.text))

        def store(position: int, audio: SpeechAudio) -> None:
            index = missing[position]
            segment = segments[index]
            expected = paces.expected(voice_key, segment.text)
            if problem := too_short(segment.text, audio.duration, expected):
                raise EngineError(f"{problem}：{segment.text[:20]}……")
            paces.learn(voice_key, segment.text, audio.duration)
            cached = self.cache.put(keys[index], audio, expected)
            done[index] = SpokenSegment(segment.text, segment.pause, cached.path, cached.format, cached.duration)
            if progress:
                progress(sum(1 for item in done if item is not None), len(segments))

        requests = [SpeechRequest(given[i], voice, rate, pitch) for i in missing]
        engine.synthesize_many(requests, store, deadline=self.clock() + self.lesson_deadline, judge=judge)
        return SpeechResult(
            requested=requested,
            voice=voice,
            engine=engine.name,
            rate=rate,
            segments=[item for item in done if item is not None],
            engine_calls=len(missing),
            cache_hits=hits,
        )


def backup_voice(engines: Mapping[str, Engine], requested: Voice) -> Voice:
    """Who says a lesson the requested voice cannot: a voice of another engine that stands in
    (a neural model) in the same language that can speak now, the same gender first; else
    the voice's own fallback (espeak-ng)."""
    for name, engine in engines.items():
        if name == requested.engine or not type(engine).stands_in:
            continue
        able = [voice for voice in all_voices() if voice.engine == name
                and voice.language == requested.language and engine.voice_availability(voice)[0]]
        able.sort(key=lambda voice: voice.gender != requested.gender)
        if able:
            return able[0]
    return get_voice(requested.fallback or "")


def build_speaker(config: SpeechConfig, engines: Mapping[str, Engine] | None = None,
                  fallback: str | None = None) -> Speaker:
    """A Speaker with every engine (these, or new ones), its segment cache where the
    configuration says. The service gets its Speaker from core.voices.speaker_for."""
    from audio.engines import build_engines

    return Speaker(
        engines=dict(engines) if engines is not None else build_engines(config),
        cache=SegmentCache(config.cache_dir),
        fallback=fallback or config.fallback,
        lesson_deadline=config.lesson_deadline,
        outage_pause=config.outage_pause,
    )

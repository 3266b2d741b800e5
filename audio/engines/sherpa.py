"""Offline neural speech through sherpa-onnx, from the model folders an admin copied in
(audio/voice_folders.py). The runtime is the optional extra `xiangyin[neural]`; without it
the folders are listed as needing it and nothing else changes.

A model is loaded once per process and shared by every render (loading a 100 MB model takes
seconds, a segment a fraction of one); segments of a lesson are spoken by a pool of threads
as wide as the machine, each model session using one thread, since onnxruntime releases the
GIL while it runs.
"""
from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from audio.engines import (
    Engine,
    EngineError,
    EngineUnavailable,
    SpeechAudio,
    SpeechConfig,
    SpeechRequest,
    pcm_wav,
    substitute,
)
from audio.voice_folders import ModelFolder, content_hash, scan
from audio.voices import Voice

INSTALL_HINT = "需要先安装神经语音组件：pip install 'xiangyin[neural]'"

_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def runtime_version() -> str | None:
    """The installed sherpa-onnx version, or None when the extra is not installed."""
    try:
        import sherpa_onnx
    except ImportError:
        return None
    return getattr(sherpa_onnx, "__version__", "unknown")


def _config(folder: ModelFolder, threads: int):
    import sherpa_onnx

    files = folder.files
    if folder.family == "vits":
        model = sherpa_onnx.OfflineTtsModelConfig(vits=sherpa_onnx.OfflineTtsVitsModelConfig(
            model=files["model"], lexicon=files.get("lexicon", ""), tokens=files["tokens"],
            data_dir=files.get("data_dir", ""), dict_dir=files.get("dict_dir", "")), num_threads=threads)
    elif folder.family == "matcha":
        model = sherpa_onnx.OfflineTtsModelConfig(matcha=sherpa_onnx.OfflineTtsMatchaModelConfig(
            acoustic_model=files["acoustic_model"], vocoder=files["vocoder"], lexicon=files.get("lexicon", ""),
            tokens=files["tokens"], data_dir=files.get("data_dir", ""), dict_dir=files.get("dict_dir", "")),
            num_threads=threads)
    else:
        model = sherpa_onnx.OfflineTtsModelConfig(kokoro=sherpa_onnx.OfflineTtsKokoroModelConfig(
            model=files["model"], voices=files["voices"], tokens=files["tokens"], lexicon=files.get("lexicon", ""),
            data_dir=files.get("data_dir", ""), dict_dir=files.get("dict_dir", "")), num_threads=threads)
    return sherpa_onnx.OfflineTtsConfig(model=model, rule_fsts=files.get("rule_fsts", ""),
                                        rule_fars=files.get("rule_fars", ""), max_num_sentences=1)


def load_model(folder: ModelFolder, digest: str):
    """The folder's model, loaded on first use and kept for the process; keyed by content so
    a model replaced on disk is loaded afresh."""
    key = (str(folder.path), digest)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            import sherpa_onnx

            config = _config(folder, threads=1)
            if not config.validate():
                raise EngineError(f"神经语音「{folder.label}」的模型文件不完整，无法加载")
            # A model replaced on disk: the old one's memory goes with it.
            for stale in [k for k in _MODELS if k[0] == key[0]]:
                del _MODELS[stale]
            model = _MODELS[key] = sherpa_onnx.OfflineTts(config)
        return model


@functools.lru_cache(maxsize=16)
def lexicon_syllables(lexicons: str, digest: str) -> dict[str, str]:
    """Tone-number syllable → the first single character in the model's lexicon files that
    has only that reading (`digest` keys the cache to the folder's content)."""
    from pypinyin.contrib.tone_convert import to_tone3

    from audio.polyphones import readings

    found: dict[str, str] = {}
    for name in lexicons.split(","):
        with open(name, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                word = line.split(maxsplit=1)[0] if line.strip() else ""
                if len(word) == 1 and len(only := readings(word)) == 1:
                    found.setdefault(to_tone3(only[0], neutral_tone_with_five=True), word)
    return found


def _pcm(samples) -> bytes:
    import numpy

    return (numpy.clip(numpy.asarray(samples, dtype=numpy.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()


class SherpaEngine(Engine):
    name = "sherpa"
    label = "离线神经合成（sherpa-onnx）"
    menu_group = "离线神经声音（本机模型）"
    menu_rank = 1
    stands_in = True
    # One VITS/Matcha call per sentence or two: longer inputs cost attention time and quality.
    byte_limit = 600
    sample_rate = 0  # each model has its own; carried in the WAV it returns
    audio_format = "wav"

    def __init__(self, voices_dir: Path | None, threads: int | None = None) -> None:
        self.voices_dir = voices_dir
        self.threads = max(1, threads or os.cpu_count() or 1)

    @classmethod
    def from_config(cls, config: SpeechConfig) -> SherpaEngine:
        return cls(config.voices_dir)

    @property
    def version(self) -> str:
        return f"sherpa-onnx {runtime_version() or 'missing'}"

    def folder(self, voice: Voice) -> ModelFolder:
        for folder in scan(self.voices_dir):
            if str(folder.path) == voice.folder:
                return folder
        raise EngineUnavailable(f"找不到神经语音「{voice.label}」的模型文件夹（已被移走？）")

    def cache_version(self, voice: Voice) -> str:
        return f"{self.version} {content_hash(self.folder(voice))}"

    def availability(self) -> tuple[bool, str]:
        if runtime_version() is None:
            return False, INSTALL_HINT
        return True, "离线可用"

    def voice_availability(self, voice: Voice) -> tuple[bool, str]:
        usable, reason = self.availability()
        if not usable:
            return usable, reason
        try:
            folder = self.folder(voice)
        except EngineError as exc:
            return False, str(exc)
        if folder.problem:
            return False, folder.problem
        return True, "离线可用" + (f" · 许可：{folder.licence}" if folder.licence else "")

    def _model(self, voice: Voice):
        usable, reason = self.voice_availability(voice)
        if not usable:
            raise EngineUnavailable(reason)
        folder = self.folder(voice)
        return load_model(folder, content_hash(folder))

    def realise(self, text: str, voice: Voice, readings: Mapping[str, str]) -> str:
        """A model folder says a chosen reading through its own front end: with a lexicon,
        each syllable as a character that lexicon lists and that has only that reading (a
        same-sound character the model does not know would be skipped in silence); with
        espeak-ng data and no lexicon, as tone-number pinyin, like the offline voice."""
        if voice.language != "cmn" or not any(spoken in text for spoken in readings):
            return text  # most segments: no folder scan
        folder = self.folder(voice)
        if "lexicon" in folder.files:
            known = lexicon_syllables(folder.files["lexicon"], content_hash(folder))

            def say(spoken: str, syllables: str) -> str:
                chars = [known.get(syllable) for syllable in syllables.split()]
                return "".join(chars) if all(chars) else spoken  # type: ignore[arg-type]

            return substitute(text, readings, say)
        if "data_dir" in folder.files:
            return substitute(text, readings, lambda _spoken, syllables: f" {syllables} ").strip()
        return text

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        return self._speak(self._model(request.voice), request)

    @staticmethod
    def _speak(model, request: SpeechRequest) -> SpeechAudio:
        text = request.text.strip()
        if not text:
            raise EngineError("没有要朗读的文字")
        speed = request.voice.speed * (100 + request.rate) / 100
        audio = model.generate(text, sid=request.voice.speaker, speed=speed)
        if not len(audio.samples):
            raise EngineError(f"神经语音没有读出这段文字（模型的词典里没有这些字？）：{text[:20]}")
        return SpeechAudio(pcm_wav(_pcm(audio.samples), audio.sample_rate), "wav", len(audio.samples) / audio.sample_rate)

    def synthesize_many(
        self,
        requests: Sequence[SpeechRequest],
        on_result: Callable[[int, SpeechAudio], None],
        *,
        deadline: float | None = None,
        judge: Callable[[SpeechRequest, SpeechAudio], str | None] | None = None,
    ) -> None:
        if not requests:
            return
        models = {request.voice.id: self._model(request.voice) for request in requests}
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="sherpa") as pool:
            pending: dict[Future, int] = {
                pool.submit(self._speak, models[request.voice.id], request): index
                for index, request in enumerate(requests)}
            try:
                while pending:
                    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                    done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
                    if not done:
                        raise EngineError("合成超时：整课的时限已到")
                    for future in done:
                        # Stored from this thread, in completion order, like the other engines.
                        on_result(pending.pop(future), future.result())
            finally:
                for future in pending:
                    future.cancel()

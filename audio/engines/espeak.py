"""Offline speech through the espeak-ng library shipped in the espeakng-loader wheel.

Always available (no network, pip only), robotic but intelligible, and the fallback when the
online service is out. The C library keeps global state and is not thread-safe, so every call
goes through one process-wide lock.
"""
from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Mapping
from typing import Any

from audio.engines import Engine, EngineError, SpeechAudio, SpeechConfig, SpeechRequest, pcm_wav, substitute
from audio.polyphones import our_readings
from audio.voices import Voice

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
ESPEAK_PITCH = 3
NORMAL_WPM = 175
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _library():
    """Load and initialise once (under the lock: two threads initialising at once crash the
    library); returns (lib, sample_rate, version)."""
    with _LOCK:
        return _load()


def _load():
    if "lib" not in _STATE:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        data_path = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, 0)
        if rate <= 0:
            raise EngineError("离线语音引擎初始化失败（espeak-ng 数据文件缺失？）")
        chunks: list[bytes] = []

        def collect(wav, count, _events):
            if count > 0:
                chunks.append(ctypes.string_at(wav, count * 2))
            return 0

        callback = _CALLBACK(collect)
        lib.espeak_SetSynthCallback(callback)
        version = (lib.espeak_Info(None) or b"unknown").decode()
        _STATE.update(lib=lib, rate=rate, chunks=chunks, callback=callback, version=version)
    return _STATE["lib"], _STATE["rate"], _STATE["version"]


class EspeakEngine(Engine):
    name = "espeak"
    label = "离线合成（espeak-ng）"
    menu_group = "离线合成声音（机器音，始终可用）"
    menu_rank = 2
    byte_limit = 3000
    sample_rate = 22050
    audio_format = "wav"

    @classmethod
    def from_config(cls, config: SpeechConfig) -> EspeakEngine:
        return cls()

    @property
    def version(self) -> str:
        return "espeak-ng " + _library()[2]

    def availability(self) -> tuple[bool, str]:
        try:
            _library()
        except (OSError, EngineError) as exc:
            return False, f"离线引擎无法加载：{exc}"
        return True, "离线可用"

    def realise(self, text: str, voice: Voice, readings: Mapping[str, str]) -> str:
        """espeak-ng's Mandarin reads tone-number pinyin as it reads characters: the chosen
        reading goes in as pinyin, never through a same-sound character, and so does every
        多音字 our word list settles (its own dictionary guesses some of them wrong)."""
        if voice.language != "cmn":
            return text
        if readings:
            text = substitute(text, readings, lambda _spoken, syllables: f" {syllables} ")
        told = our_readings(text)
        if told:
            text = "".join(f" {told[index]} " if index in told else char for index, char in enumerate(text))
        return re.sub(r" ?([，。！？；：、]) ?", r"\1", re.sub(r" {2,}", " ", text)).strip()

    def synthesize(self, request: SpeechRequest) -> SpeechAudio:
        text = request.text.strip()
        if not text:
            raise EngineError("没有要朗读的文字")
        if not request.voice.reads_hanzi and any("\u4e00" <= ch <= "\u9fff" for ch in text):
            raise EngineError(
                f"{request.voice.label}只能朗读白话字拼音，不能朗读汉字；请改用真人录音或其他声音"
            )
        with _LOCK:
            lib, rate, _ = _library()
            chunks: list[bytes] = _STATE["chunks"]
            chunks.clear()
            if lib.espeak_SetVoiceByName(request.voice.engine_voice.encode()) != 0:
                raise EngineError(f"离线引擎没有「{request.voice.engine_voice}」这种语言")
            lib.espeak_SetParameter(ESPEAK_RATE, round(NORMAL_WPM * (100 + request.rate) / 100), 0)
            lib.espeak_SetParameter(ESPEAK_PITCH, max(0, min(100, 50 + request.pitch // 2)), 0)
            encoded = text.encode("utf-8")
            status = lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, ESPEAK_CHARS_UTF8, None, None)
            pcm = b"".join(chunks)
            chunks.clear()
        if status != 0 or not pcm:
            raise EngineError(f"离线引擎合成失败（状态 {status}）")
        return SpeechAudio(pcm_wav(pcm, rate), "wav", len(pcm) / 2 / rate)

"""The voice catalog: stable ids that records, packs and URLs can keep for years.

The online and espeak-ng voices are shipped in code because the edge service (which lists its
voices online) may be unreachable; each names the offline voice of the same language to fall
back to. Neural voices come from the model folders of this installation (voice_folders.py):
their ids are made from the folder's name, so they are as stable as the folder.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Voice:
    id: str
    label: str
    engine: str
    engine_voice: str
    dialect: str
    gender: str  # "female" | "male"
    language: str  # "cmn" | "yue" | "hak"
    fallback: str | None = None
    reads_hanzi: bool = True
    # Neural voices: the model folder, the speaker id in it and the folder's default speed.
    folder: str = ""
    speaker: int = 0
    speed: float = 1.0

    @property
    def gender_label(self) -> str:
        return {"female": "女声", "male": "男声"}[self.gender]


def _edge(id_, label, voice, dialect, gender, language, fallback) -> Voice:
    return Voice(id_, label, "edge", voice, dialect, gender, language, fallback)


VOICES: tuple[Voice, ...] = (
    _edge("mandarin-xiaoxiao", "普通话 · 晓晓（女）", "zh-CN-XiaoxiaoNeural", "普通话", "female", "cmn", "offline-mandarin"),
    _edge("mandarin-xiaoyi", "普通话 · 晓伊（女）", "zh-CN-XiaoyiNeural", "普通话", "female", "cmn", "offline-mandarin"),
    _edge("mandarin-yunjian", "普通话 · 云健（男）", "zh-CN-YunjianNeural", "普通话", "male", "cmn", "offline-mandarin"),
    _edge("mandarin-yunxi", "普通话 · 云希（男）", "zh-CN-YunxiNeural", "普通话", "male", "cmn", "offline-mandarin"),
    _edge("mandarin-yunxia", "普通话 · 云夏（男）", "zh-CN-YunxiaNeural", "普通话", "male", "cmn", "offline-mandarin"),
    _edge("mandarin-yunyang", "普通话 · 云扬（男，播音）", "zh-CN-YunyangNeural", "普通话", "male", "cmn", "offline-mandarin"),
    _edge("dongbei-xiaobei", "东北话 · 晓北（女）", "zh-CN-liaoning-XiaobeiNeural", "东北话", "female", "cmn", "offline-mandarin"),
    _edge("shaanxi-xiaoni", "陕西话 · 晓妮（女）", "zh-CN-shaanxi-XiaoniNeural", "陕西话", "female", "cmn", "offline-mandarin"),
    _edge("cantonese-hiugaai", "粤语 · 晓佳（女）", "zh-HK-HiuGaaiNeural", "粤语", "female", "yue", "offline-cantonese"),
    _edge("cantonese-hiumaan", "粤语 · 晓曼（女）", "zh-HK-HiuMaanNeural", "粤语", "female", "yue", "offline-cantonese"),
    _edge("cantonese-wanlung", "粤语 · 云龙（男）", "zh-HK-WanLungNeural", "粤语", "male", "yue", "offline-cantonese"),
    _edge("taiwan-hsiaochen", "台湾普通话 · 晓臻（女）", "zh-TW-HsiaoChenNeural", "台湾普通话", "female", "cmn", "offline-mandarin"),
    _edge("taiwan-hsiaoyu", "台湾普通话 · 晓雨（女）", "zh-TW-HsiaoYuNeural", "台湾普通话", "female", "cmn", "offline-mandarin"),
    _edge("taiwan-yunjhe", "台湾普通话 · 云哲（男）", "zh-TW-YunJheNeural", "台湾普通话", "male", "cmn", "offline-mandarin"),
    Voice("offline-mandarin", "普通话 · 离线合成", "espeak", "cmn", "普通话", "male", "cmn"),
    Voice("offline-cantonese", "粤语 · 离线合成", "espeak", "yue", "粤语", "male", "yue"),
    # espeak-ng's Hakka reads Pha̍k-fa-sṳ romanisation only; given hanzi it says "Chinese letter".
    Voice("offline-hakka", "客家话 · 离线合成（白话字拼音）", "espeak", "hak", "客家话", "male", "hak", reads_hanzi=False),
)

_BY_ID = {voice.id: voice for voice in VOICES}
DEFAULT_VOICE = "offline-mandarin"
# The espeak-ng voice each language falls back to when nothing better can speak it.
OFFLINE_BY_LANGUAGE = {"cmn": "offline-mandarin", "yue": "offline-cantonese", "hak": "offline-hakka"}
_FOLDERS: dict[str, Path | None] = {"root": None}
_FOLDERS_LOCK = threading.Lock()


class UnknownVoice(KeyError):
    def __str__(self) -> str:
        return f"没有这个声音：{self.args[0]}（可用 xiangyin voices 查看全部声音）"


def use_voices_dir(path: Path | None) -> None:
    """Where this process finds model folders (the installation's VOICES_DIR)."""
    with _FOLDERS_LOCK:
        _FOLDERS["root"] = path


def voices_dir() -> Path | None:
    with _FOLDERS_LOCK:
        return _FOLDERS["root"]


def folder_voices() -> list[Voice]:
    """One voice per speaker of every model folder, read again when a folder changes."""
    from audio.voice_folders import scan

    voices = []
    # A folder whose voice.toml says `fallback = true` comes first: the one to stand in.
    for folder in sorted(scan(voices_dir()), key=lambda f: not f.preferred):
        for speaker in folder.speakers:
            label = folder.label if len(folder.speakers) == 1 else f"{folder.label} · {speaker.label}"
            voices.append(Voice(
                folder.voice_id(speaker.sid), f"{label}（离线神经）", "sherpa", f"{folder.path.name}#{speaker.sid}",
                folder.dialect, speaker.gender, folder.language, OFFLINE_BY_LANGUAGE.get(folder.language),
                folder=str(folder.path), speaker=speaker.sid, speed=folder.speed))
    return voices


def all_voices() -> list[Voice]:
    """Online voices, then the neural ones of this installation, then espeak-ng's."""
    online = [voice for voice in VOICES if voice.engine == "edge"]
    return [*online, *folder_voices(), *(voice for voice in VOICES if voice.engine != "edge")]


def get_voice(voice_id: str) -> Voice:
    voice = _BY_ID.get(voice_id)
    if voice is None and voice_id.startswith("neural-"):
        voice = next((v for v in folder_voices() if v.id == voice_id), None)
    if voice is None:
        raise UnknownVoice(voice_id)
    return voice

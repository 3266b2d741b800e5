"""The voice catalog: stable ids that records, packs and URLs can keep for years.

Shipped in code because the edge service (which lists its voices online) may be unreachable;
each voice names the offline voice of the same language to fall back to.
"""
from __future__ import annotations

from dataclasses import dataclass


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


class UnknownVoice(KeyError):
    def __str__(self) -> str:
        return f"没有这个声音：{self.args[0]}（可用 xiangyin voices 查看全部声音）"


def get_voice(voice_id: str) -> Voice:
    try:
        return _BY_ID[voice_id]
    except KeyError:
        raise UnknownVoice(voice_id) from None

"""Engines, cache and fallback, with real speech: espeak-ng offline, and the real edge_tts
library talking to a local fake of the service."""
from __future__ import annotations

import array
import io
import wave

import edge_tts
import pytest

from audio.cache import SegmentCache, audio_duration
from audio.engines import EngineError, EngineUnavailable, SpeechRequest, parse_rate
from audio.engines.edge import EdgeEngine
from audio.engines.espeak import EspeakEngine
from audio.mp3 import mp3_info
from audio.segment import segment_text
from audio.speech import Speaker
from audio.text import normalise
from audio.voices import VOICES, get_voice
from tests.helpers.fake_edge import FakeEdgeServer

pytestmark = pytest.mark.slow  # synthesises speech

SAMPLES = {
    "offline-mandarin": "各位党员同志，大家好！今天我们一起学习党章，按时交纳党费。",
    "offline-cantonese": "各位黨員同志，大家好！今日我哋一齊學習。",
    # Pha̍k-fa-sṳ: "everybody, hello; today we study together".
    "offline-hakka": "Thai-kâ hó! Kîm-pû ngài-teu yit-chhai ho̍k-si̍p.",
}


def rms(wav_bytes: bytes) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return (sum(s * s for s in samples) / len(samples)) ** 0.5


@pytest.fixture(autouse=True)
def reset_clock_skew():
    yield
    edge_tts.drm.DRM.clock_skew_seconds = 0.0


@pytest.fixture
def server():
    fake = FakeEdgeServer().start()
    yield fake
    fake.stop()


@pytest.fixture
def edge(server):
    return EdgeEngine(url=server.url, timeout=15, attempts=3, backoff=0.01)


@pytest.fixture
def speaker(edge, tmp_path):
    return Speaker({"edge": edge, "espeak": EspeakEngine()}, SegmentCache(tmp_path / "cache"))


def cached_files(tmp_path):
    """The cached audio (each file's size-and-hash record beside it is not audio)."""
    return sorted(p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.suffix != ".json")


# --------------------------------------------------------------------------- offline engine


@pytest.mark.parametrize("voice_id", list(SAMPLES))
def test_offline_engine_speaks_every_language(voice_id):
    text = SAMPLES[voice_id]
    audio = EspeakEngine().synthesize(SpeechRequest(text, get_voice(voice_id), rate=-10))
    assert audio.format == "wav"
    with wave.open(io.BytesIO(audio.data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
    syllables = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff") or len(text.replace("-", " ").split())
    assert 0.1 <= audio.duration / syllables <= 0.9, f"{audio.duration:.2f} s for {syllables} syllables"
    assert rms(audio.data) > 500, "speech, not silence"


def test_offline_hakka_refuses_hanzi_instead_of_saying_chinese_letter():
    with pytest.raises(EngineError, match="只能朗读白话字拼音，不能朗读汉字"):
        EspeakEngine().synthesize(SpeechRequest("大家好", get_voice("offline-hakka")))


def test_offline_rate_control_changes_the_pace():
    voice = get_voice("offline-mandarin")
    slow = EspeakEngine().synthesize(SpeechRequest(SAMPLES["offline-mandarin"], voice, rate=-30))
    fast = EspeakEngine().synthesize(SpeechRequest(SAMPLES["offline-mandarin"], voice, rate=30))
    assert slow.duration > fast.duration * 1.5


def test_different_text_gives_different_speech():
    voice = get_voice("offline-mandarin")
    one = EspeakEngine().synthesize(SpeechRequest("一二三", voice)).data
    two = EspeakEngine().synthesize(SpeechRequest("四五六七八九", voice)).data
    assert one != two and len(two) > len(one)


def test_rates_are_validated():
    assert parse_rate("-10%") == -10 and parse_rate("+5") == 5 and parse_rate(0) == 0
    with pytest.raises(ValueError, match="超出范围"):
        parse_rate("-80%")
    with pytest.raises(ValueError, match="语速格式不对"):
        parse_rate("slow")


def test_catalog_has_every_chinese_voice_with_a_fallback():
    edge_voices = {v.engine_voice for v in VOICES if v.engine == "edge"}
    assert {"zh-CN-XiaoxiaoNeural", "zh-CN-liaoning-XiaobeiNeural", "zh-CN-shaanxi-XiaoniNeural",
            "zh-HK-WanLungNeural", "zh-TW-YunJheNeural"} <= edge_voices
    assert all(v.startswith("zh-") and v.endswith("Neural") for v in edge_voices), "only Chinese neural voices"
    assert len({v.id for v in VOICES}) == len(VOICES), "voice ids are unique"
    for voice in VOICES:
        if voice.engine == "edge":
            assert get_voice(voice.fallback).language == voice.language
    assert {v.dialect for v in VOICES} >= {"普通话", "东北话", "陕西话", "粤语", "台湾普通话", "客家话"}


# --------------------------------------------------------------------------- edge engine


def test_long_unspaced_lesson_is_split_and_joined_in_order(speaker, server):
    paragraph = "".join(f"第{n}条学习要点是按时参加组织生活并且认真完成学习任务" for n in range(1, 41))
    lesson = paragraph + "\n" + paragraph.replace("学习", "落实")
    result = speaker.render(lesson, "mandarin-xiaoxiao", rate=-10)
    assert result.engine == "edge" and result.voice.id == "mandarin-xiaoxiao" and result.fallback_reason is None
    assert all(len(t.encode()) <= 1500 for t in server.texts)
    assert len(server.texts) == len(result.segments) >= 4
    spoken = "".join(s.text for s in result.segments)
    assert spoken == normalise(paragraph) + normalise(paragraph.replace("学习", "落实"))
    assert sorted(server.texts) == sorted(s.text for s in result.segments)
    assert {v.rsplit(" ", 1)[-1] for v in server.voices} == {"XiaoxiaoNeural)"}
    for segment in result.segments:
        assert mp3_info(segment.path.read_bytes())[0] == pytest.approx(segment.duration)


@pytest.mark.parametrize("fault", ["403", "503", "no_audio", "drop", "slow", "stall"])
def test_faults_are_retried(server, edge, fault):
    edge.timeout = 1.0
    server.slow_latency = 2.0
    server.inject(fault)
    audio = edge.synthesize(SpeechRequest("请大家按时交纳党费。", get_voice("mandarin-yunxi")))
    assert mp3_info(audio.data)[0] == pytest.approx(audio.duration) and audio.duration > 1
    assert server.connections >= 2
    assert server.texts[-1] == "请大家按时交纳党费。"


def test_403_with_date_header_adjusts_the_clock_inside_the_library(server, edge):
    server.inject("403")
    edge.synthesize(SpeechRequest("测试。", get_voice("mandarin-xiaoxiao")))
    assert edge.calls == 1, "the library itself retries once after reading the Date header"
    assert server.connections == 2


def test_lasting_outage_falls_back_to_offline_voice_of_the_same_language(speaker, server):
    server.inject(*["503"] * 50)
    result = speaker.render("粤语课程。第二句。", "cantonese-hiugaai", rate=-10)
    assert result.engine == "espeak"
    assert result.voice.id == "offline-cantonese"
    assert result.requested.id == "cantonese-hiugaai"
    assert "在线语音服务连续 3 次失败：服务返回 HTTP 503" in result.fallback_reason


def test_lasting_outage_fails_clearly_when_configured(speaker, server, tmp_path):
    speaker.fallback = "fail"
    server.inject(*["no_audio"] * 50)
    with pytest.raises(EngineUnavailable, match="在线语音服务连续 3 次失败：服务没有返回声音"):
        speaker.render("测试一下。", "mandarin-xiaoxiao")
    assert cached_files(tmp_path) == []


def test_unreachable_service_falls_back(tmp_path):
    edge = EdgeEngine(url="ws://127.0.0.1:9/edge/v1?TrustedClientToken=x", timeout=1, attempts=2, backoff=0.01)
    assert edge.availability()[0] is False
    speaker = Speaker({"edge": edge, "espeak": EspeakEngine()}, SegmentCache(tmp_path / "cache"))
    result = speaker.render("断网也要能听。", "dongbei-xiaobei")
    assert (result.engine, result.voice.id) == ("espeak", "offline-mandarin")
    assert "连不上在线语音服务" in result.fallback_reason
    assert "Error" not in result.fallback_reason, "exception names go to the log, not to people"


def test_concurrency_never_exceeds_the_limit(speaker, server, edge):
    server.latency = 0.2
    lesson = "\n".join(f"第{n}段，大家好。" for n in range(1, 13))
    result = speaker.render(lesson, "mandarin-xiaoxiao")
    assert len(result.segments) == 12
    assert server.max_active == 3 and edge.max_in_flight == 3


def test_no_partial_audio_is_ever_cached(speaker, server, tmp_path):
    speaker.fallback = "fail"
    server.inject("drop", "drop", "drop")
    with pytest.raises(EngineUnavailable, match="连接在声音传完之前断开"):
        speaker.render("这一句会被中途断开。", "mandarin-xiaoxiao")
    assert cached_files(tmp_path) == []
    server.inject("drop")
    result = speaker.render("这一句会被中途断开。", "mandarin-xiaoxiao")
    [path] = cached_files(tmp_path)
    full = mp3_info(server._mp3("这一句会被中途断开。", "zh-CN-XiaoxiaoNeural"))[0]
    assert mp3_info(path.read_bytes())[0] == pytest.approx(full) == pytest.approx(result.duration)


def test_lesson_deadline_stops_a_stalled_render(speaker, server, edge):
    speaker.fallback = "fail"
    speaker.lesson_deadline = 1.5
    edge.timeout = 10
    server.inject(*["stall"] * 5)
    with pytest.raises(EngineUnavailable, match="时限"):
        speaker.render("卡住的请求。", "mandarin-xiaoxiao")


# --------------------------------------------------------------------------- cache


def test_warm_render_makes_no_engine_calls_and_edits_redo_only_changed_segments(speaker, server, edge):
    lesson = "第一段。\n第二段，有2025年12月1日。\n第三段。"
    cold = speaker.render(lesson, "mandarin-xiaoxiao", rate=-10)
    assert (cold.engine_calls, cold.cache_hits, len(server.texts)) == (3, 0, 3)
    warm = speaker.render(lesson, "mandarin-xiaoxiao", rate=-10)
    assert (warm.engine_calls, warm.cache_hits, len(server.texts)) == (0, 3, 3)
    assert [s.path for s in warm.segments] == [s.path for s in cold.segments]
    edited = speaker.render(lesson.replace("第三段", "第三段改过了"), "mandarin-xiaoxiao", rate=-10)
    assert (edited.engine_calls, edited.cache_hits) == (1, 2)
    assert server.texts[-1] == "第三段改过了。"
    other_rate = speaker.render(lesson, "mandarin-xiaoxiao", rate=0)
    assert other_rate.engine_calls == 3, "rate is part of the cache key"


def test_damaged_cache_files_are_not_trusted(speaker, server, tmp_path):
    first = speaker.render("缓存的文件坏了要重做。", "mandarin-xiaoxiao")
    path = first.segments[0].path
    path.write_bytes(path.read_bytes()[:-100])
    again = speaker.render("缓存的文件坏了要重做。", "mandarin-xiaoxiao")
    assert again.engine_calls == 1
    assert mp3_info(path.read_bytes())[0] == pytest.approx(first.duration)


def test_a_segment_being_written_is_a_miss_not_a_deletion(tmp_path):
    """Two render jobs share segments (every lesson ends with 本课结束): one thread may look up
    a key while another has written the audio but not yet its record. The looker must not
    delete the file the writer is about to master (this cost a CI run its pack)."""
    from audio.engines import SpeechAudio

    text = "本课结束。"
    wav = EspeakEngine().synthesize(SpeechRequest(text, get_voice("offline-mandarin")))
    cache = SegmentCache(tmp_path)
    key = SegmentCache.key(text, "espeak", "cmn", 0, 0, "v")
    written = cache.put(key, SpeechAudio(wav.data, "wav", wav.duration))
    record = written.path.with_name(written.path.name + ".json")
    kept = record.read_bytes()
    record.unlink()  # the writer's state between its two atomic writes
    assert cache.get(key, text) is None
    assert written.path.is_file(), "the half-recorded segment stays for its writer"
    record.write_bytes(kept)
    assert cache.get(key, text).path == written.path


def test_implausible_cached_duration_is_rejected(tmp_path):
    cache = SegmentCache(tmp_path)
    key = SegmentCache.key("很长的一句话需要好几秒钟才能读完", "espeak", "cmn", 0, 0, "v")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(22050)
        wav.writeframes(b"\x00\x00" * 2205)  # 0.1 s
    from audio.engines import SpeechAudio

    cache.put(key, SpeechAudio(buffer.getvalue(), "wav", 0.1))
    assert cache.get(key, "很长的一句话需要好几秒钟才能读完") is None
    assert list(tmp_path.rglob("*.wav")) == []


def test_audio_duration_rejects_garbage():
    with pytest.raises(ValueError):
        audio_duration(b"not audio at all", "mp3")
    with pytest.raises(ValueError):
        audio_duration(b"RIFF....WAVEfmt ", "wav")


def test_text_without_speech_is_refused(speaker):
    with pytest.raises(EngineError, match="没有可以朗读的文字"):
        speaker.render("😀 —— ……", "offline-mandarin")
    with pytest.raises(EngineError, match="没有可以朗读的文字"):
        speaker.render("😀 https://example.com", "offline-mandarin", addresses=False)  # a series set to 不读


def test_segmenting_uses_each_engines_limit():
    long = "学习" * 600  # 3,600 bytes
    assert len(segment_text(long, EdgeEngine.byte_limit)) == 3
    assert len(segment_text(long, EspeakEngine.byte_limit)) == 2


def test_offline_engine_survives_first_use_from_many_threads():
    """Initialising espeak-ng from two threads at once used to crash the process."""
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from audio.engines import SpeechRequest\n"
        "from audio.engines.espeak import EspeakEngine\n"
        "from audio.voices import get_voice\n"
        "out = []\n"
        "def go():\n"
        "    engine = EspeakEngine()\n"
        "    assert engine.version.startswith('espeak-ng')  # the cache key asks this first\n"
        "    out.append(engine.synthesize(SpeechRequest('大家好', get_voice('offline-mandarin'))).duration)\n"
        "threads = [threading.Thread(target=go) for _ in range(6)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(len(out), min(out) > 0.3)\n"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "True"]

"""Offline neural voices from model folders: a tiny VITS model built here is listed, loaded by
the real sherpa-onnx runtime, speaks, is cached by content, mastered, and stands in for the
online voices of its language; the voice menus say honestly which voice can speak now."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from audio.engines import EdgeConfig, SpeechConfig, build_engines
from audio.speech import Speaker, build_speaker
from audio.voice_folders import onnx_metadata, scan
from audio.voices import all_voices, get_voice, use_voices_dir
from core.models import Rendition
from tests.helpers.audio_judges import decode, ffprobe, loudness
from tests.helpers.fake_edge import FakeEdgeServer
from tests.helpers.tiny_voice import SAMPLES_PER_TOKEN, build_tiny_vits, onnx_file
from tests.helpers.web import page_text

pytestmark = pytest.mark.slow
TEXT = "我们一起学习党章。今天听第二讲，要点内容。"
MULTI = 'label = "测试女声男声"\nlicence = "仅供测试"\n[speakers]\n0 = "女声"\n2 = {label = "男声", gender = "male"}\n'


@pytest.fixture
def voices_dir(tmp_path) -> Path:
    root = tmp_path / "voices"
    build_tiny_vits(root / "tiny-zh")
    build_tiny_vits(root / "multi", speakers=3, voice_toml=MULTI)
    use_voices_dir(root)
    yield root
    use_voices_dir(None)


def speaker_for(voices_dir: Path, cache: Path, **config) -> Speaker:
    return build_speaker(SpeechConfig(cache_dir=cache, voices_dir=voices_dir, **config))


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(spectrum.argmax())])


def test_folders_are_read_without_loading_the_model(voices_dir):
    import onnx

    folders = {folder.path.name: folder for folder in scan(voices_dir)}
    tiny, multi = folders["tiny-zh"], folders["multi"]
    assert onnx_metadata(tiny.path / "model.onnx") == {
        entry.key: entry.value for entry in onnx.load(str(tiny.path / "model.onnx")).metadata_props}
    assert (tiny.family, tiny.sample_rate, tiny.language, tiny.dialect, tiny.problem) == ("vits", 16000, "cmn", "普通话", None)
    assert [s.sid for s in multi.speakers] == [0, 2] and multi.licence == "仅供测试"
    ids = {voice.id: voice for voice in all_voices()}
    assert ids["neural-tiny-zh"].label == "普通话 · tiny-zh（离线神经）"
    assert ids["neural-multi-2"].label == "测试女声男声 · 男声（离线神经）" and ids["neural-multi-2"].gender == "male"
    assert "neural-multi-1" not in ids, "only the speakers voice.toml names"
    assert get_voice("neural-multi-0").speaker == 0


def test_matcha_and_kokoro_folders_are_recognised(voices_dir):
    matcha = voices_dir / "matcha-icefall-zh-baker"
    onnx_file(matcha / "model-steps-3.onnx", {"model_type": "matcha-tts", "sample_rate": "22050", "n_speakers": "1",
                                              "language": "Chinese", "comment": "icefall"})
    for name in ("tokens.txt", "lexicon.txt", "date.fst", "number.fst"):
        (matcha / name).write_text("a 1\n", encoding="utf-8")
    (matcha / "dict").mkdir()
    kokoro = voices_dir / "kokoro-multi-lang-v1_1"
    onnx_file(kokoro / "model.onnx", {"model_type": "kokoro", "sample_rate": "24000", "language": "multi-lang",
                                      "speaker_names": "zf_001,zf_002,zm_009"})
    (kokoro / "voices.bin").write_bytes(bytes(3 * 510 * 256 * 4))
    for name in ("tokens.txt", "lexicon-zh.txt", "lexicon-us-en.txt"):
        (kokoro / name).write_text("a 1\n", encoding="utf-8")
    (kokoro / "espeak-ng-data").mkdir()
    folders = {folder.path.name: folder for folder in scan(voices_dir)}
    without_vocoder = folders["matcha-icefall-zh-baker"]
    assert (without_vocoder.family, without_vocoder.problem) == ("matcha", "缺少 声码器（vocos 或 hifigan 的 .onnx 文件）")
    onnx_file(matcha / "vocos-22khz-univ.onnx", {"model_type": "vocos"})
    folders = {folder.path.name: folder for folder in scan(voices_dir)}
    ready = folders["matcha-icefall-zh-baker"]
    assert (ready.problem, ready.sample_rate, ready.language) == (None, 22050, "cmn")
    assert Path(ready.files["acoustic_model"]).name == "model-steps-3.onnx"
    assert Path(ready.files["vocoder"]).name == "vocos-22khz-univ.onnx"
    assert [Path(p).name for p in ready.files["rule_fsts"].split(",")] == ["date.fst", "number.fst"]
    multi = folders["kokoro-multi-lang-v1_1"]
    assert (multi.family, multi.problem, multi.sample_rate, multi.language) == ("kokoro", None, 24000, "cmn")
    assert [s.label for s in multi.speakers] == ["zf_001", "zf_002", "zm_009"], "one voice per style in voices.bin"
    assert sorted(Path(p).name for p in multi.files["lexicon"].split(",")) == ["lexicon-us-en.txt", "lexicon-zh.txt"]
    # a folder name that is not a plain id keeps a short hash of itself, so two never collide
    ids = {v.id for v in all_voices()}
    assert {"neural-kokoro-multi-lang-v1-1-b230b647-2", "neural-matcha-icefall-zh-baker"} <= ids


def test_incomplete_and_foreign_folders_are_listed_with_the_reason(voices_dir):
    broken = build_tiny_vits(voices_dir / "no-tokens")
    (broken / "tokens.txt").unlink()
    piper = voices_dir / "zh_CN-huayan-medium"
    piper.mkdir()
    shutil.copy(voices_dir / "tiny-zh" / "model.onnx", piper / "zh_CN-huayan-medium.onnx")
    (piper / "zh_CN-huayan-medium.onnx.json").write_text("{}", encoding="utf-8")
    junk = voices_dir / "junk"
    junk.mkdir()
    (junk / "model.onnx").write_bytes(b"\xff" * 64)
    bad_toml = build_tiny_vits(voices_dir / "bad-toml", voice_toml="label = ")
    build_tiny_vits(voices_dir / "wrong-model", voice_toml='model = "model.fp16.onnx"')
    two = build_tiny_vits(voices_dir / "two-models", voice_toml='model = "model.int8.onnx"')
    shutil.copy(two / "model.onnx", two / "model.int8.onnx")
    quantised = build_tiny_vits(voices_dir / "quantised-too")
    shutil.copy(quantised / "model.onnx", quantised / "model.int8.onnx")
    problems = {folder.path.name: folder.problem for folder in scan(voices_dir)}
    assert problems["no-tokens"] == "缺少 tokens.txt"
    assert "Piper 原始格式" in problems["zh_CN-huayan-medium"]
    assert problems["junk"] == "模型文件不完整或不是 ONNX 格式"
    assert problems["bad-toml"].startswith("voice.toml 写得不对") and bad_toml.is_dir()
    assert problems["wrong-model"] == "voice.toml 里写的模型文件 model.fp16.onnx 不在文件夹里"
    models = {folder.path.name: Path(folder.files.get("model", "")).name for folder in scan(voices_dir)}
    assert (models["two-models"], models["quantised-too"]) == ("model.int8.onnx", "model.onnx"), \
        "voice.toml chooses; otherwise full precision"
    engine = build_engines(SpeechConfig(cache_dir=voices_dir.parent / "c", voices_dir=voices_dir))["sherpa"]
    usable, reason = engine.voice_availability(get_voice("neural-no-tokens"))
    assert (usable, reason) == (False, "缺少 tokens.txt")
    assert engine.voice_availability(get_voice("neural-multi-0")) == (True, "离线可用 · 许可：仅供测试")


def test_the_cli_lists_neural_voices_with_their_state(make_app, data_dir):
    from scripts.cli import cli

    build_tiny_vits(data_dir / "voices" / "tiny-zh")
    broken = build_tiny_vits(data_dir / "voices" / "broken")
    (broken / "lexicon.txt").unlink()
    app = make_app()
    result = app.test_cli_runner().invoke(cli, ["voices"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "neural-tiny-zh\t普通话 · tiny-zh（离线神经）\tsherpa\t普通话\t女声\t是（离线可用）" in lines
    assert "neural-broken\t普通话 · broken（离线神经）\tsherpa\t普通话\t女声\t否（缺少 lexicon.txt 或 espeak-ng-data）" in lines


def test_a_neural_voice_speaks_through_the_real_runtime_cached_and_mastered(voices_dir, tmp_path):
    from audio.master import Tags, master, track_items

    speaker = speaker_for(voices_dir, tmp_path / "cache")
    result = speaker.render(TEXT, "neural-multi-2")
    assert (result.engine, result.voice.id, result.fallback_reason) == ("sherpa", "neural-multi-2", None)
    # the tiny model's length follows its input: four more characters are eight more tokens
    short, longer = (speaker.render(text, "neural-multi-2").duration for text in ("学习党章。", "学习党章学习党章。"))
    assert longer - short == pytest.approx(8 * SAMPLES_PER_TOKEN / 16000, abs=0.01)
    wav = result.segments[0].path.read_bytes()
    assert wav[:4] == b"RIFF" and int.from_bytes(wav[24:28], "little") == 16000, "the model's own rate"
    again = speaker.render(TEXT, "neural-multi-2")
    assert (again.engine_calls, again.cache_hits) == (0, len(result.segments))
    out = tmp_path / "lesson.mp3"
    master(track_items(result.segments), out, Tags(title="测试", album="测试", artist="测试"))
    stream = ffprobe(out)["streams"][0]
    assert stream["codec_name"] == "mp3" and float(stream["duration"]) > result.duration
    assert loudness(out) == pytest.approx(-16, abs=1.0)
    # the speaker id reaches the model: speaker 2 of the tiny model is 80 Hz above speaker 0
    low = decode(speaker.render(TEXT, "neural-multi-0").segments[0].path, 16000)
    high = decode(result.segments[0].path, 16000)
    assert dominant_hz(low, 16000) == pytest.approx(220, abs=5) and dominant_hz(high, 16000) == pytest.approx(300, abs=5)
    slower = speaker.render(TEXT, "neural-multi-2", rate=-20)
    assert slower.duration == pytest.approx(result.duration / 0.8, rel=0.05), "the rate reaches the model as speed"


def test_a_replaced_model_is_never_answered_from_the_old_cache(voices_dir, tmp_path):
    speaker = speaker_for(voices_dir, tmp_path / "cache")
    first = speaker.render(TEXT, "neural-tiny-zh")
    time.sleep(0.01)
    build_tiny_vits(voices_dir / "tiny-zh", sample_rate=22050)
    second = speaker.render(TEXT, "neural-tiny-zh")
    assert second.engine_calls == len(first.segments) and second.cache_hits == 0
    assert int.from_bytes(second.segments[0].path.read_bytes()[24:28], "little") == 22050


def test_offline_fallback_prefers_a_neural_voice_of_the_same_language(voices_dir, tmp_path):
    speaker = speaker_for(voices_dir, tmp_path / "cache",
                          edge=EdgeConfig(url="ws://127.0.0.1:9/edge/v1?TrustedClientToken=x", timeout=1, attempts=1))
    mandarin = speaker.render(TEXT, "mandarin-yunjian")
    assert mandarin.engine == "sherpa" and mandarin.voice.id == "neural-multi-2", "the male neural voice for a male one"
    assert "连不上在线语音服务" in mandarin.fallback_reason
    cantonese = speaker.render("大家好。", "cantonese-hiugaai")
    assert (cantonese.engine, cantonese.voice.id) == ("espeak", "offline-cantonese"), "no Cantonese model here"
    shutil.rmtree(voices_dir / "tiny-zh")
    gone = speaker.render(TEXT, "neural-multi-0")
    assert gone.engine == "sherpa", "the other folder still speaks"
    (voices_dir / "multi" / "tokens.txt").unlink()
    broken = speaker.render(TEXT, "neural-multi-0")
    assert (broken.engine, broken.voice.id, broken.fallback_reason) == ("espeak", "offline-mandarin", "缺少 tokens.txt")


def test_without_the_runtime_the_folders_say_they_need_the_extra(voices_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sherpa_onnx", None)
    speaker = speaker_for(voices_dir, tmp_path / "cache")
    result = speaker.render(TEXT, "neural-tiny-zh")
    assert (result.engine, result.voice.id) == ("espeak", "offline-mandarin")
    assert "xiangyin[neural]" in result.fallback_reason


# --------------------------------------------------------------------------- the menus


@pytest.fixture
def edge():
    server = FakeEdgeServer().start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, edge, data_dir, monkeypatch):
    """The menus' tests: the fake online service, a model folder, and an online check that
    may run again at once (it is at most a minute old in production)."""
    import audio.engines.edge as edge_engine

    build_tiny_vits(data_dir / "voices" / "tiny-zh")
    monkeypatch.setattr(edge_engine, "CHECK_EVERY", 0.0)
    return make_app(EDGE_WSS_URL=edge.url)


def series_page(admin, db) -> tuple[int, int, str]:
    from core.lessons import add_lesson, create_series

    series = create_series(db, "测试专题", actor=None)
    lesson = add_lesson(db, series, "第一讲", TEXT)
    db.commit()
    return series.id, lesson.id, admin.get(f"/series/{series.id}").get_data(as_text=True)


def option(html: str, voice_id: str) -> str:
    start = html.index(f'<option value="{voice_id}"')
    return html[start:html.index("</option>", start)]


def test_the_menu_says_which_voices_can_speak_and_why_not(admin, db, edge):
    series_id, lesson_id, html = series_page(admin, db)
    assert "disabled" not in option(html, "mandarin-xiaoxiao") and "现在不能用" not in option(html, "mandarin-xiaoxiao")
    assert "disabled" not in option(html, "neural-tiny-zh")
    assert '<optgroup label="离线神经声音（本机模型）">' in html
    edge.stop()
    deadline = time.monotonic() + 10
    while "disabled" not in option(admin.get(f"/series/{series_id}").get_data(as_text=True), "mandarin-xiaoxiao"):
        assert time.monotonic() < deadline, "the background check never noticed the service went away"
        time.sleep(0.2)
    page = admin.get(f"/series/{series_id}")
    text = page_text(page)
    assert "普通话 · 晓晓（女）（现在不能用：连不上在线语音服务（没有网络或服务不可用））" in text
    assert "Error" not in text and "Traceback" not in text
    response = admin.post(f"/lessons/{lesson_id}/render", {"voice": "mandarin-xiaoxiao"})
    assert response.status_code == 303
    follow = page_text(admin.get(response.headers["Location"]))
    assert "「普通话 · 晓晓（女）」现在用不了" in follow and "普通话 · tiny-zh（离线神经）" in follow
    assert db.scalar(select(func.count()).select_from(Rendition)) == 0, "nothing queued in a voice that cannot speak"


def test_voice_samples_are_spoken_once_and_say_why_not(app, admin, edge):
    response = admin.get("/voices/neural-tiny-zh/sample.mp3")
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"
    sample = app.extensions["xiangyin.settings"].paths.cache / "samples"
    files = list(sample.glob("*.mp3"))
    assert len(files) == 1 and files[0].read_bytes() == response.data
    assert float(ffprobe(files[0])["format"]["duration"]) > 2
    mtime = files[0].stat().st_mtime_ns
    assert admin.get("/voices/neural-tiny-zh/sample.mp3").data == response.data and files[0].stat().st_mtime_ns == mtime
    assert admin.get("/voices/nobody/sample.mp3").status_code == 404
    edge.stop()
    deadline = time.monotonic() + 10
    while True:
        refused = admin.get("/voices/mandarin-xiaoxiao/sample.mp3", headers={"Accept": "application/json"})
        if refused.status_code == 409 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert refused.status_code == 409 and "现在用不了" in refused.get_json()["error"]


def test_volunteers_cannot_fetch_samples(volunteer):
    assert volunteer.get("/voices/neural-tiny-zh/sample.mp3").status_code == 403


def test_a_pack_in_a_voice_that_cannot_speak_now_is_refused_before_anything_is_queued(make_app):
    from core.lessons import add_lesson, create_series
    from core.models import Job, User
    from core.packs import PackRequestError, request_pack
    from tests.helpers.web import add_user

    app = make_app(EDGE_WSS_URL="ws://127.0.0.1:9/edge/v1?TrustedClientToken=x")
    add_user(app, "packer", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "包专题", actor=None)
        lesson = add_lesson(session, series, "第一讲", TEXT)
        session.commit()
        user = session.scalars(select(User).where(User.username == "packer")).one()
        with pytest.raises(PackRequestError, match="「普通话 · 晓晓（女）」现在用不了：连不上在线语音服务"):
            request_pack(session, app.extensions["xiangyin.settings"], [lesson], "mandarin-xiaoxiao", user=user)
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert session.scalar(select(func.count()).select_from(Rendition)) == 0


def test_every_path_asks_the_same_question_of_a_voice_that_cannot_speak_now(make_app):
    """request_render refuses it for the web and packs, regenerate skips it with the same
    words, and the command line's "queue anyway" queues it for its stand-in."""
    from core.lessons import add_lesson, create_series
    from core.models import Job
    from core.rendering import regenerate, request_render
    from core.voices import VoiceUnusable

    app = make_app(EDGE_WSS_URL="ws://127.0.0.1:9/edge/v1?TrustedClientToken=x")
    settings = app.extensions["xiangyin.settings"]
    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "包专题", actor=None), "第一讲", TEXT)
        session.commit()
        with pytest.raises(VoiceUnusable, match="「普通话 · 晓晓（女）」现在用不了") as refused:
            request_render(session, lesson, settings, voice_id="mandarin-xiaoxiao")
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        rendition, job = request_render(session, lesson, settings, voice_id="mandarin-xiaoxiao", on_unusable="queue")
        assert job is not None and rendition.voice_id == "mandarin-xiaoxiao"
        rendition.status = "done"
        session.commit()
        assert regenerate(session, lesson, settings, None) == (0, [str(refused.value)])

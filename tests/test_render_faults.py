"""Rendering under faults of the online service (the real edge_tts library against the local
fake): one voice per track, an outage noticed once per run, cached segments re-checked, and
the files a killed render left behind swept away."""
from __future__ import annotations

import os
import time

import pytest

from app import settings_of
from audio.cache import SegmentCache
from audio.engines import SpeechAudio
from audio.mp3 import _BITRATES, _SAMPLE_RATES, _skip_id3v2, mp3_info
from audio.segment import segment_text
from audio.speech import build_speaker
from audio.voices import get_voice
from core.lessons import add_lesson, create_series
from core.models import Lesson, Rendition
from core.rendering import request_render
from core.worker import InProcessRunner
from tests.helpers.fake_edge import FakeEdgeServer, speech_mp3

pytestmark = pytest.mark.slow  # renders audio under injected faults


@pytest.fixture
def server():
    fake = FakeEdgeServer().start()
    yield fake
    fake.stop()


def online_app(make_app, server, **config):
    return make_app(EDGE_WSS_URL=server.url, EDGE_TIMEOUT=1, EDGE_ATTEMPTS=2, EDGE_BACKOFF=0.05, **config)


def render_all(app, lesson_ids, voice="mandarin-xiaoxiao") -> list[int]:
    with app.extensions["xiangyin.db"].session() as session:
        ids = [request_render(session, session.get(Lesson, i), settings_of(app), voice_id=voice)[0].id
               for i in lesson_ids]
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()
    return ids


def test_an_intro_that_fails_makes_the_whole_track_fall_back(make_app, server):
    app = online_app(make_app, server, EDGE_OUTAGE_PAUSE=0)  # so the lesson itself is tried online
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "专题", actor=None)
        lesson_id = add_lesson(session, series, "学习党章", "党章是党的根本大法，我们要认真学习。").id
        session.commit()
    server.fail_texts = {"学习党章"}  # the spoken intro "第一课：学习党章" fails, the lesson does not
    [rendition_id] = render_all(app, [lesson_id])
    assert any("根本大法" in text for text in server.texts), "the lesson itself was spoken online"
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        assert rendition.status == "done", rendition.error
        assert (rendition.engine, rendition.actual_voice_id) == ("espeak", "offline-mandarin")
        assert rendition.fallback_reason and "代替" in rendition.label


def test_a_total_outage_of_a_ten_lesson_series_is_noticed_once(make_app, server):
    app = online_app(make_app, server)
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "停电那天", actor=None)
        ids = [add_lesson(session, series, f"第{n}课题目", f"第{n}段内容，请大家认真学习。").id for n in range(1, 11)]
        session.commit()
    server.always = "stall"  # connections hang: every attempt waits out its timeout
    start = time.monotonic()
    renditions = render_all(app, ids)
    elapsed = time.monotonic() - start
    with app.extensions["xiangyin.db"].session() as session:
        done = [session.get(Rendition, r) for r in renditions]
        assert all(r.status == "done" and r.engine == "espeak" for r in done)
    assert server.connections <= 12, "after the first lesson the rest go straight to the offline voice"
    assert elapsed < 60, f"{elapsed:.0f} s"


def test_the_circuit_tries_the_service_again_after_its_pause(make_app, server, tmp_path):
    app = online_app(make_app, server)
    now = [0.0]
    speaker = build_speaker(settings_of(app).speech)
    speaker.clock = lambda: time.monotonic() + now[0]
    server.always = "503"
    assert speaker.render("第一句。", "mandarin-xiaoxiao").fallback_reason
    tried = server.connections
    assert speaker.render("第二句。", "mandarin-xiaoxiao").fallback_reason
    assert server.connections == tried, "within the pause: not tried"
    server.always = None
    now[0] += speaker.outage_pause + 1
    result = speaker.render("第三句。", "mandarin-xiaoxiao")
    assert result.fallback_reason is None and result.engine == "edge"


def cut_at_frame_boundary(data: bytes) -> bytes:
    """The first half of the frames: still a clean, decodable MP3, just shorter."""
    pos, starts = _skip_id3v2(data), []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        b1, b2 = data[pos + 1], data[pos + 2]
        version_bits = (b1 >> 3) & 0x3
        mpeg1 = version_bits == 3
        bitrate = _BITRATES[1 if mpeg1 else 2][b2 >> 4] * 1000
        rate = _SAMPLE_RATES[version_bits][(b2 >> 2) & 0x3]
        starts.append(pos)
        pos += (144 if mpeg1 else 72) * bitrate // rate + ((b2 >> 1) & 0x1)
    return data[:starts[len(starts) // 2]]


def test_a_cached_segment_cut_short_is_spoken_again(make_app, server):
    app = online_app(make_app, server)
    speaker = build_speaker(settings_of(app).speech)
    text = "这一句会被缓存，然后被截掉一半。"
    first = speaker.render(text, "mandarin-xiaoxiao")
    [path] = [s.path for s in first.segments]
    cut = cut_at_frame_boundary(path.read_bytes())
    assert mp3_info(cut)[0] < first.duration * 0.6, "decodes fine, only shorter"
    path.write_bytes(cut)
    calls = server.connections
    again = speaker.render(text, "mandarin-xiaoxiao")
    assert server.connections == calls + 1 and again.engine_calls == 1
    assert again.duration == pytest.approx(first.duration)


def test_files_a_killed_render_left_behind_are_swept_at_start(app, data_dir):
    leftovers = [data_dir / "audio" / "tmp" / ".tmp-abc.mp3", data_dir / "cache" / "segments" / "ab" / ".tmp-x.mp3"]
    fresh = data_dir / "audio" / "tmp" / ".tmp-live.mp3"
    for path in [*leftovers, fresh]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    for path in leftovers:
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()
    assert not any(path.exists() for path in leftovers)
    assert fresh.exists(), "a file being written right now is left alone"


def test_a_dead_writers_temporary_files_go_at_start_whatever_their_age(app, data_dir):
    import subprocess
    import sys

    from audio.store import HOST

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    folders = [data_dir / "recordings", data_dir / "voice_notes" / "messages", data_dir / "packs",
               data_dir / "cache" / "segments" / "ab"]
    dead = [folder / f".tmp-{HOST}-{gone.pid}-1234.flac" for folder in folders]
    alive = data_dir / "recordings" / f".tmp-{HOST}-{os.getpid()}-5678.flac"
    elsewhere = data_dir / "recordings" / ".tmp-othermachine-1-9abc.flac"
    for path in [*dead, alive, elsewhere]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()
    assert not any(path.exists() for path in dead), "fresh, but their writer is gone"
    assert alive.exists() and elsewhere.exists(), "a live writer's, and another machine's (judged by age)"


def test_the_cli_names_this_runs_fallbacks_by_lesson(make_app, server, data_dir):
    from click.testing import CliRunner

    from scripts.cli import cli

    app = online_app(make_app, server)
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "停电那天", actor=None)
        first = add_lesson(session, series, "停电通知", "第一段内容。")
        session.commit()
        first_id = first.id
    server.always = "503"
    render_all(app, [first_id])  # an earlier run's fallback
    with app.extensions["xiangyin.db"].session() as session:
        add_lesson(session, session.get(Lesson, first_id).series, "用电安全", "第二段内容。")
        session.commit()
        series_id = session.get(Lesson, first_id).series_id
    env = {"XIANGYIN_DATA_DIR": str(data_dir), "XIANGYIN_EDGE_WSS_URL": server.url, "XIANGYIN_EDGE_TIMEOUT": "1",
           "XIANGYIN_EDGE_ATTEMPTS": "1"}
    result = CliRunner().invoke(cli, ["render", "--series", str(series_id), "--voice", "mandarin-xiaoxiao"], env=env)
    assert result.exit_code == 0, result.output
    # The earlier run's stand-in answers no request for the online voice: it is tried again.
    assert "这次有 2 课" in result.output, result.output
    assert "第1课 停电通知" in result.output.split("这次有")[1] and "第2课 用电安全" in result.output


WARM_UP = ("各位党员同志，大家好。\n今天我们一起学习党章的第一部分，了解党员应当履行的义务。\n"
           "请大家认真听，有不明白的地方可以留言。\n志愿者下次上门时，再给大家讲一讲。")
TARGET = ("党员要按时参加组织生活。党员要按时交纳党费。党员要关心群众，帮助困难群众。"
          "党员要带头遵守法律法规。党员要积极参加社区活动。")


def lessons(app, *texts) -> list[int]:
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "专题", actor=None)
        series.intro_mode = "off"
        ids = [add_lesson(session, series, f"第{n}课", text).id for n, text in enumerate(texts, 1)]
        session.commit()
    return ids


def track_seconds(app, rendition_id: int) -> tuple[float, str]:
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        assert rendition.status == "done", rendition.error
        return rendition.duration, rendition.engine


def test_a_half_length_reply_never_reaches_a_finished_track(make_app, server, data_dir, tmp_path):
    """The service sometimes says only part of a sentence and ends normally. Once the voice's
    pace is known, such a reply is asked for again; a segment cached short before is spoken
    again; a voice that keeps answering short fails over to the offline voice."""
    clean = online_app(make_app, server, DATA_DIR=str(tmp_path / "clean"))
    [reference] = render_all(clean, lessons(clean, TARGET))
    whole, _ = track_seconds(clean, reference)

    app = online_app(make_app, server, EDGE_OUTAGE_PAUSE=0)
    speech = settings_of(app).speech
    # What an older version cached: the service's half-length reply for the lesson's text.
    cache, engine = SegmentCache(speech.cache_dir), build_speaker(speech).engines["edge"]
    voice = get_voice("mandarin-xiaoxiao")
    for segment in segment_text(TARGET, engine.byte_limit, language=voice.language):
        short = speech_mp3(segment.text[: len(segment.text) // 2])
        cache.put(SegmentCache.key(segment.text, "edge", voice.engine_voice, -10, 0, engine.cache_version(voice)),
                  SpeechAudio(short, "mp3", mp3_info(short)[0]))
    warm, target, other = lessons(app, WARM_UP, TARGET, TARGET + "谢谢大家。")
    render_all(app, [warm])  # the voice's pace, learned from what it says
    connections = server.connections
    server.inject("half")  # asked again, and answered whole
    [again] = render_all(app, [target])
    assert server.connections > connections, "the short cached segments were spoken again"
    seconds, engine = track_seconds(app, again)
    assert engine == "edge" and seconds == pytest.approx(whole, abs=0.1)

    server.always = "half"
    [fell] = render_all(app, [other])
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, fell)
        assert rendition.status == "done" and rendition.engine == "espeak", "stayed short: failed over"
        assert "应有长度" in rendition.fallback_reason


def test_after_an_outage_the_online_voice_comes_back(make_app, server):
    """An outage trips the pause and the lesson is said by the offline voice; once the service
    is back, asking again (the lesson page's 换回在线声音) gives the online voice, and the
    stand-in becomes old audio that can be removed."""
    from tests.helpers.web import Client, add_user

    app = online_app(make_app, server, EDGE_OUTAGE_PAUSE=0)
    [lesson_id] = lessons(app, TARGET)
    server.always = "503"
    [stand_in] = render_all(app, [lesson_id])
    assert track_seconds(app, stand_in)[1] == "espeak"
    add_user(app, "boss", "admin")
    admin = Client(app.test_client())
    assert admin.login("boss").status_code == 302
    server.always = None
    page = admin.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    assert "换回在线声音" in page
    asked = admin.post(f"/lessons/{lesson_id}/render", {"voice": "mandarin-xiaoxiao", "rate": "-10"})
    assert asked.status_code == 303
    InProcessRunner(app.extensions["xiangyin.db"], settings_of(app)).run_until_idle()
    with app.extensions["xiangyin.db"].session() as session:
        renditions = session.query(Rendition).order_by(Rendition.id).all()
        assert [(r.id == stand_in, r.engine, r.actual_voice_id) for r in renditions] == [
            (True, "espeak", "offline-mandarin"), (False, "edge", "mandarin-xiaoxiao")]
    page = admin.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    assert "换回在线声音" not in page and "删除旧音频" in page

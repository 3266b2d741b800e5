"""Recordings from strangers are judged by their content, decoded once under hard bounds and
with no database transaction open, a flood of them cannot stall the listeners already
playing, and refused ones count against the sender's limits."""
from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import imageio_ffmpeg
import pytest
from sqlalchemy import func, select

import audio.intake
import core.intake
from audio.intake import Busy, Limits, Refused, Slots, take_in
from core.messages import PER_PHONE_PER_DAY
from core.models import ListenerMessage, Member, UploadRefusal
from tests.helpers.audio_judges import ffprobe
from tests.helpers.browser import serve
from tests.helpers.messages import leave, phone
from tests.helpers.tools import tone_wav, yesterday

pytestmark = pytest.mark.slow


def made(tmp_path: Path, name: str, *args: str) -> bytes:
    """Audio made by ffmpeg from a lavfi source: `args` are its input and output options."""
    target = tmp_path / name
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *args, str(target)], check=True)
    return target.read_bytes()


def bomb(tmp_path: Path) -> bytes:
    """200-odd bytes of FLAC that decode to a minute of 8-channel 384 kHz silence."""
    return made(tmp_path, "bomb.flac", "-f", "lavfi", "-i", "anullsrc=r=384000:cl=7.1", "-t", "60", "-c:a", "flac",
                "-f", "flac")


def endless(tmp_path: Path) -> bytes:
    """Two minutes of WebM written as MediaRecorder writes it (to a pipe: no duration in the
    header), so only the decode itself can tell it is too long."""
    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=300:r=48000",
                           "-t", "120", "-c:a", "libopus", "-b:a", "12k", "-f", "webm", "pipe:1"],
                          capture_output=True, check=True)
    return proc.stdout


def mp3(tmp_path: Path, seconds: float = 3) -> bytes:
    return made(tmp_path, "tone.mp3", "-f", "lavfi", "-i", "sine=f=440:r=44100", "-t", str(seconds),
                "-c:a", "libmp3lame", "-f", "mp3")


def webm(tmp_path: Path, seconds: float = 3) -> bytes:
    return made(tmp_path, "tone.webm", "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", str(seconds),
                "-c:a", "libopus", "-f", "webm")


@pytest.mark.parametrize("maker, reason", [(bomb, "采样率不对"), (endless, "录音太长，最多 60 秒")])
def test_hostile_audio_is_refused_fast_and_leaves_nothing(tmp_path, maker, reason):
    source = tmp_path / "upload"
    source.write_bytes(maker(tmp_path))
    output = tmp_path / "out.flac"
    started = time.monotonic()
    with pytest.raises(Refused, match=reason):
        take_in(source, output, Limits(max_seconds=60, min_seconds=1), Slots(1))
    assert time.monotonic() - started < 5
    assert not output.exists()


def test_the_content_decides_not_the_name(tmp_path):
    for data, name in ((mp3(tmp_path), "x.wav"), (webm(tmp_path), "x.mp3")):
        source = tmp_path / name
        source.write_bytes(data)
        taken = take_in(source, tmp_path / "out.flac", Limits(max_seconds=60), Slots(1))
        assert taken.duration == pytest.approx(3, abs=0.1)
        probed = ffprobe(taken.path)
        assert probed["streams"][0]["codec_name"] == "flac" and probed["streams"][0]["channels"] == 1


def test_a_full_process_answers_busy_at_once(tmp_path):
    slots = Slots(1)
    source = tmp_path / "x.mp3"
    source.write_bytes(mp3(tmp_path))
    with slots.hold(0):
        started = time.monotonic()
        with pytest.raises(Busy, match="请过一会儿再发送"):
            take_in(source, tmp_path / "out.flac", Limits(max_seconds=60), slots)
        assert time.monotonic() - started < 0.5
    assert take_in(source, tmp_path / "out.flac", Limits(max_seconds=60), slots).duration > 2


def test_the_public_form_keeps_an_mp3_named_wav_and_a_webm_named_mp3(app, tmp_path):
    token = _public_code(app)
    for n, (data, name) in enumerate(((mp3(tmp_path), "留言.wav"), (webm(tmp_path), "留言.mp3"))):
        answer = leave(phone(app, token), token, client_id=f"msg-content-{n}", audio=data, name=name)
        assert answer.status_code == 200 and answer.json["created"], answer.json
    with app.extensions["xiangyin.db"].session() as session:
        kept = session.scalars(select(ListenerMessage)).all()
    folder = app.extensions["xiangyin.settings"].paths.voice_notes
    assert len(kept) == 2
    for message in kept:
        assert float(ffprobe(folder / message.audio_path)["format"]["duration"]) > 3


def test_a_busy_server_answers_503_in_chinese_and_keeps_nothing(app, tmp_path, monkeypatch):
    token = _public_code(app)
    slots = Slots(1)
    monkeypatch.setattr(audio.intake, "DEFAULT_SLOTS", slots)
    with slots.hold(0):
        answer = leave(phone(app, token), token, audio=mp3(tmp_path), name="留言.m4a")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "请过一会儿再发送" in answer.json["error"]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ListenerMessage)) == 0


def test_refused_recordings_count_against_the_phones_limit(app, tmp_path):
    token = _public_code(app)
    client = phone(app, token)
    silence = tone_wav(2, amplitude=0.0)
    for n in range(PER_PHONE_PER_DAY):
        answer = leave(client, token, client_id=f"msg-refused-{n:02d}", audio=silence)
        assert answer.status_code == 422 and "几乎没有声音" in answer.json["error"]
    answer = leave(client, token, client_id="msg-typed-0001", text="还能留言吗？")
    assert answer.status_code == 429 and "今天的留言已经很多了" in answer.json["error"]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(UploadRefusal)) == PER_PHONE_PER_DAY
        assert session.scalar(select(func.count()).select_from(ListenerMessage)) == 0


def test_no_upload_is_decoded_inside_a_transaction(app, admin, tmp_path, monkeypatch, request):
    """While a recording is decoded, another connection can take SQLite's write lock at once:
    a listener's heartbeat never waits behind a decode."""
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("SQLite's single write lock is what a decode must not hold")
    database = app.extensions["xiangyin.db"].url.removeprefix("sqlite:///")
    original, writable = core.intake.take_in, []

    def watched(*args, **kwargs):
        other = sqlite3.connect(database, timeout=0.2)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()
        return original(*args, **kwargs)

    monkeypatch.setattr(core.intake, "take_in", watched)
    token = _public_code(app)
    sound = mp3(tmp_path)
    assert leave(phone(app, token), token, audio=sound, name="a.m4a").status_code == 200
    assert admin.post("/lessons/1/recordings", {"dialect": "重庆话", "recording": (io.BytesIO(sound), "r.mp3")},
                      content_type="multipart/form-data").status_code == 303
    assert admin.post("/series/1/oral", {"title": "口述", "dialect": "重庆话", "recording": (io.BytesIO(sound), "o.mp3")},
                      content_type="multipart/form-data").status_code == 303
    studio = admin.post("/lessons/1/studio", {"dialect": "重庆话", "speaker": "1", "speaker_name": "王秀英"})
    assert studio.status_code == 303
    take = admin.post("/studio/1/takes", {"paragraph": "0", "audio": (io.BytesIO(sound), "t.m4a")},
                      headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert take.status_code == 200, take.get_data(as_text=True)
    with app.extensions["xiangyin.db"].session() as session:
        member = Member(name="王秀英")
        session.add(member)
        session.commit()
        member_id = member.id
    visit = admin.post(f"/visits/new/{member_id}", {
        "client_key": "k" * 20, "visited_at": yesterday(), "delivered": "nothing",
        "voice_note": (io.BytesIO(sound), "n.m4a")}, content_type="multipart/form-data")
    assert visit.status_code == 303, visit.get_data(as_text=True)[:300]
    assert writable == [True] * 5


def test_a_dozen_bombs_do_not_stall_the_phones_already_playing(app, tracks, tmp_path):
    """12 decode bombs at once against the real server while three phones beat: no beat
    answers 5xx, the listen page stays quick, each bomb is refused in Chinese in seconds."""
    renditions, general, _ = tracks
    bombs = [bomb(tmp_path), endless(tmp_path)] * 6
    with serve(app) as base:
        def opener():
            made_opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
            made_opener.open(f"{base}/l/{general.token}").read()
            return made_opener

        def status(request_or_url, browser) -> tuple[int, str]:
            try:
                with browser.open(request_or_url, timeout=30) as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        phones = [opener() for _ in range(3)]
        beats: list[int] = []
        stop = threading.Event()

        def beating(browser, rendition_id):
            event = "play"
            while not stop.is_set():
                body = json.dumps({"t": general.token, "r": rendition_id, "e": event, "d": 1, "p": 1}).encode()
                beats.append(status(urllib.request.Request(f"{base}/listen/beat", body), browser)[0])
                event = "beat"
                stop.wait(0.2)

        results: list[tuple[int, str, float]] = []

        def send(data: bytes, n: int):
            boundary = "xybomb"
            body = (f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nmsg-bomb-{n:04d}\r\n'
                    f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="m.webm"\r\n'
                    f"Content-Type: audio/webm\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
            request = urllib.request.Request(f"{base}/l/{general.token}/message", body, headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"})
            started = time.monotonic()
            code, text = status(request, opener())
            results.append((code, json.loads(text)["error"], time.monotonic() - started))

        beaters = [threading.Thread(target=beating, args=(p, r.id)) for p, r in zip(phones, renditions)]
        for thread in beaters:
            thread.start()
        senders = [threading.Thread(target=send, args=(data, n)) for n, data in enumerate(bombs)]
        for thread in senders:
            thread.start()
        page_times = []
        for _ in range(5):
            started = time.monotonic()
            assert status(f"{base}/l/{general.token}", urllib.request.build_opener())[0] == 200
            page_times.append(time.monotonic() - started)
        for thread in senders:
            thread.join()
        stop.set()
        for thread in beaters:
            thread.join()
    assert beats and all(code < 500 for code in beats), beats
    assert max(page_times) < 1.0, page_times
    assert len(results) == 12
    for code, error, seconds in results:
        assert code in (422, 429, 503) and any("\u4e00" <= c <= "\u9fff" for c in error), (code, error)
        assert seconds < 5, results
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ListenerMessage)) == 0


def _public_code(app) -> str:
    from core.lessons import add_lesson, create_series
    from core.sharing import share_for

    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "学习党章", "党章是党的根本大法。")
        token = share_for(session, lesson=lesson).token
        session.commit()
        return token

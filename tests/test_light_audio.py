"""The light file for one bar of signal: made in the same mastering pass as the main track,
as loud, as long, decodable by a tool that is not ours, and served with byte ranges."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import settings_of
from core.lessons import add_lesson, create_series
from core.models import Rendition
from core.sharing import share_for
from core.storage import open_store, track_key
from tests.helpers import audio_judges as judge
from tests.helpers.jobs import render
from tests.helpers.listen import audio_urls

TEXT = ("各位党员同志，今天我们学习按时交纳党费的规定。党费每月交纳一次，退休党员按基本退休费的百分之零点五交纳。"
        "有困难的同志可以向支部说明情况。")


def files(app, rendition_id: int) -> tuple[Path, Path, Rendition]:
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        session.expunge(rendition)
    store = open_store(settings_of(app))
    assert rendition.light_path, "every new track has a light copy"
    return store.local_path(track_key(rendition.file_path)), store.local_path(track_key(rendition.light_path)), rendition


@pytest.fixture
def lesson(make_app):
    app = make_app()
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson_id = add_lesson(session, series, "按时交纳党费", TEXT).id
        session.commit()
    return app, lesson_id, render(app, lesson_id)


def test_the_light_file_is_as_loud_as_long_and_a_third_of_the_bytes(lesson):
    app, _, rendition_id = lesson
    main, light, rendition = files(app, rendition_id)
    probed = judge.ffprobe(light)
    stream = probed["streams"][0]
    assert (stream["codec_name"], stream["channels"], int(stream["sample_rate"])) == ("mp3", 1, 22050)
    assert int(probed["format"]["bit_rate"]) <= 33_000
    main_seconds = float(judge.ffprobe(main)["format"]["duration"])
    assert abs(float(probed["format"]["duration"]) - main_seconds) <= 0.1
    assert abs(judge.loudness(light) - judge.loudness(main)) <= 0.5
    assert abs(judge.loudness(light) - (-16.0)) <= 1.0
    assert judge.true_peak(light) <= -1.0
    assert rendition.light_size == light.stat().st_size
    assert light.stat().st_size < 0.6 * main.stat().st_size
    # Same speech: the light file's envelope follows the main one's.
    assert judge.best_correlation(judge.envelope(judge.decode(light))[50:150], judge.envelope(judge.decode(main))) > 0.9


def test_the_light_file_is_served_with_ranges(lesson):
    app, _, rendition_id = lesson
    main, light, rendition = files(app, rendition_id)
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Rendition, rendition_id).lesson).token
        session.commit()
    client = app.test_client()
    page = client.get(f"/l/{token}").get_data(as_text=True)
    light_url = re.search(r'<audio id="audio"[^>]*data-light="([^"]+)"', page).group(1)
    assert light_url.endswith(f"/a/{rendition_id}/{light.name}") and audio_urls(page)[0].endswith(main.name)
    whole = client.get(light_url)
    assert whole.status_code == 200 and whole.data == light.read_bytes()
    assert whole.headers["Content-Type"] == "audio/mpeg"
    part = client.get(light_url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == light.read_bytes()[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{light.stat().st_size}"
    # Another name under the same rendition is not served.
    assert client.get(light_url.replace(".light.mp3", ".other.mp3")).status_code == 404



def test_tracks_made_before_light_files_get_theirs_from_the_main_file(lesson):
    from mutagen.id3 import ID3

    from core.render_jobs import lighten

    app, _, rendition_id = lesson
    main, light, _ = files(app, rendition_id)
    light.unlink()
    with app.extensions["xiangyin.db"].session() as session:
        rendition = session.get(Rendition, rendition_id)
        rendition.light_path = rendition.light_size = None
        session.commit()
        assert list(lighten(session, settings_of(app))) == [None]
        session.commit()
        assert list(lighten(session, settings_of(app))) == [], "nothing is made twice"
    main, light, rendition = files(app, rendition_id)
    assert light.is_file() and rendition.light_size == light.stat().st_size
    assert abs(float(judge.ffprobe(light)["format"]["duration"]) - float(judge.ffprobe(main)["format"]["duration"])) <= 0.1
    assert abs(judge.loudness(light) - judge.loudness(main)) <= 0.5
    assert str(ID3(str(light))["TIT2"]) == str(ID3(str(main))["TIT2"])

"""Packs from a phone: WeChat's browser downloads nothing and a phone has no USB drive, so a
volunteer sends the pack to the office computer, where the next empty drive plugged in gets
it — never a drive with something on it — and the volunteer's page says 等U盘, then 已写好."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from app import settings_of
from core.demo import load_demo
from core.models import Job, Pack
from tests.helpers.jobs import run_jobs
from tests.helpers.web import PASSWORD, page_text, reconfigure

pytestmark = pytest.mark.slow  # renders audio and writes a pack

WECHAT = ("Mozilla/5.0 (Linux; Android 10; V2002A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
          "Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 MicroMessenger/8.0.35.2360")


@pytest.fixture
def office(app, tmp_path, monkeypatch):
    """The demo roll and library; a media folder where drives appear (mounts stood in for)."""
    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    media = tmp_path / "media" / "office"
    media.mkdir(parents=True)
    reconfigure(app, usb_drive_globs=str(media / "*"))
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: os.path.dirname(str(p)) == str(media) or real_ismount(p))
    return media


@pytest.mark.browser
def test_in_wechat_a_pack_goes_to_the_office_and_onto_the_next_empty_drive(app, volunteer, office):
    from tests.helpers.browser import phone_page, serve, wait_until

    with serve(app) as url, phone_page(user_agent=WECHAT) as page:
        page.goto(url + "/login")
        page.fill("input[name=username]", "vol1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.goto(url + "/packs/new")
        assert page.locator("input[name=delivery][value=zip]").count() == 0, "no download in WeChat"
        assert "在浏览器中打开" in page.inner_text("main") and page.is_checked("input[name=delivery][value=office]")
        page.check("input[name=series][value='3']")
        page.click("form button.primary")
        wait_until(page, "location.pathname.indexOf('/packs/making/') === 0")
        run_jobs(app)  # the audio is made; no drive anywhere yet
        wait_until(page, "document.querySelector('.job-message').textContent.includes('等U盘')", timeout=20)
        assert page.inner_text("h1") == "送到办公室电脑"
        assert "等 U 盘" in page_text(volunteer.get("/packs/office")) and "健康生活小课堂" in page_text(volunteer.get("/packs/office"))

        reconfigure(app, usb_drives_here=True)
        used = office / "OLD"
        used.mkdir()
        (used / "孙子的照片.jpg").write_bytes(b"\xff\xd8")
        run_jobs(app)
        assert not [name for name in os.listdir(used) if name != "孙子的照片.jpg"], "a drive in use is never written"
        with app.extensions["xiangyin.db"].session() as session:
            assert session.scalar(select(Job.status).where(Job.kind == "pack_build")) == "queued"

        empty = office / "KINGSTON"
        empty.mkdir()
        run_jobs(app)
        wait_until(page, "document.querySelector('.job-message').textContent.includes('已写好')", timeout=20)
        [folder] = [path for path in empty.iterdir() if path.is_dir()]
        assert (folder / "manifest.json").is_file() and any(path.suffix == ".mp3" for path in folder.iterdir())
        assert "没有等 U 盘的学习包" in page_text(volunteer.get("/packs/office"))
        with app.extensions["xiangyin.db"].session() as session:
            pack = session.scalars(select(Pack)).one()
            assert (pack.target, pack.target_path) == ("drive", str(empty))
        page.goto(url + "/packs/")
        assert "健康生活小课堂" in page.inner_text("main") and pack.uuid[:8] not in page.inner_text("main"), "no raw ids"


def test_progress_words_and_bar_agree_and_no_page_shows_a_raw_id(app, admin, office):
    from core.packs import pack_job_status
    from core.queue import chain_progress

    response = admin.post("/packs/new", {"series": ["3"], "voice": "offline-mandarin", "delivery": "zip"})
    assert response.status_code == 303
    with app.extensions["xiangyin.db"].session() as session:
        job = session.scalars(select(Job).where(Job.kind == "pack_build")).one()
        status = pack_job_status(session, job)
        assert f"已完成 {chain_progress(session, job)['progress']}%" in status["message"]
    run_jobs(app)
    with app.extensions["xiangyin.db"].session() as session:
        pack = session.scalars(select(Pack)).one()
    for path in ("/packs/", f"/packs/{pack.uuid}"):
        shown = page_text(admin.get(path))
        assert pack.uuid not in shown and pack.uuid[:8] not in shown, path

"""Packs built from the library: through the CLI onto a drive folder and a FAT32 image, and
through the web as a zip; each one recorded with its lessons, versions and recipient."""
from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from sqlalchemy import select

from app import settings_of
from core.models import Member, Pack
from scripts.cli import cli
from tests.helpers.jobs import run_jobs
from tests.helpers.web import page_text, reconfigure

pytestmark = pytest.mark.slow  # renders audio and writes packs


def test_cli_writes_verifies_and_records_a_pack(make_app, tmp_path):
    app = make_app(migrate=False)
    run = lambda *args: app.test_cli_runner().invoke(cli, list(args))  # noqa: E731
    assert run("demo", "--no-audio").exit_code == 0
    drive = tmp_path / "usb"
    drive.mkdir()
    result = run("pack", "write", "--to", str(drive), "--series", "3", "--member", "1", "--greeting")
    assert result.exit_code == 0, result.output
    assert "学习包已写好并校验通过：健康生活小课堂（王秀英），2 课（另有问候语）" in result.output
    top = drive / "健康生活小课堂（王秀英）"
    assert sorted(p.name for p in top.iterdir()) == [
        "000 问候.mp3", "001 第1课 冬季防跌倒.mp3", "002 第2课 管好血压.mp3", "manifest.json", "播放列表.m3u8",
        "目录.pdf", "目录.txt"]
    assert [p.name for p in sorted(top.iterdir(), key=lambda p: p.stat().st_ctime_ns)][:3] == [
        "000 问候.mp3", "001 第1课 冬季防跌倒.mp3", "002 第2课 管好血压.mp3"]
    from mutagen.mp3 import MP3

    assert 8 < MP3(top / "000 问候.mp3").info.length < 40
    manifest = json.loads((top / "manifest.json").read_text("utf-8"))
    assert manifest["member"] == "王秀英" and manifest["files"][1]["lesson_id"] == 7
    again = run("pack", "write", "--to", str(drive), "--series", "3")
    assert again.exit_code == 1 and "目标位置不是空的" in again.output
    assert run("pack", "write", "--to", str(drive), "--series", "3", "--replace").exit_code == 0
    assert [p.name for p in drive.iterdir()] == ["健康生活小课堂"], "replace removed the old pack folder"
    assert run("pack", "verify", str(drive)).exit_code == 0
    (drive / "健康生活小课堂" / "002 第2课 管好血压.mp3").unlink()
    broken = run("pack", "verify", str(drive))
    assert broken.exit_code == 1 and "缺少文件 002 第2课 管好血压.mp3" in broken.output
    with app.extensions["xiangyin.db"].session() as session:
        packs = session.scalars(select(Pack).order_by(Pack.id)).all()
        assert [p.target for p in packs] == ["drive", "drive"]
        assert packs[0].member.name == "王秀英" and packs[1].member is None
        assert [i.title for i in packs[0].items] == ["问候", "第1课 冬季防跌倒", "第2课 管好血压"]
        assert all(i.lesson_version_id and i.rendition_id for i in packs[0].items[1:])
    listing = run("pack", "list")
    assert "健康生活小课堂\t王秀英\t2 课\tdrive" in listing.output
    assert "需要同时用 --member" in run("pack", "write", "--to", str(drive), "--series", "3", "--greeting").output


def test_cli_image_and_bad_requests(make_app, tmp_path):
    app = make_app(migrate=False)
    run = lambda *args: app.test_cli_runner().invoke(cli, list(args))  # noqa: E731
    run("demo", "--no-audio")
    image = tmp_path / "pack.img"
    result = run("pack", "image", "--size", "40M", "-o", str(image), "--lessons", "8,7,4", "--series-intros")
    assert result.exit_code == 0, result.output
    assert run("pack", "verify", str(image)).exit_code == 0
    from audio.pack import FatImageTarget

    target = FatImageTarget(image)
    assert target.listdir("学习包/01 健康生活小课堂") == ["000 专题介绍.mp3", "001 第2课 管好血压.mp3", "002 第1课 冬季防跌倒.mp3"]
    assert target.listdir("学习包/02 平安社区：防范电信网络诈骗") == ["000 专题介绍.mp3", "001 第1课 接到“公检法”电话怎么办.mp3"]
    target.close()
    assert "没有这些课程：99" in run("pack", "image", "-o", str(image), "--lessons", "99").output
    assert "还没有真人录音" in run("pack", "write", "--to", str(tmp_path), "--series", "1", "--voice", "recording").output
    assert "找不到 U 盘位置" in run("pack", "write", "--to", str(tmp_path / "gone"), "--series", "1").output


def test_web_pack_renders_missing_audio_then_offers_the_zip(admin, app):
    from core.demo import load_demo

    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    first = admin.post("/packs/new", {"series": ["3"], "voice": "offline-mandarin", "member": "2"})
    assert first.status_code == 303 and "/packs/making/" in first.headers["Location"]
    waiting = admin.get(first.headers["Location"])
    assert waiting.status_code == 200 and "先生成音频：2 课，已完成 0%" in page_text(waiting)
    status_url = re.search(r'data-pack-url="([^"]+)"', waiting.get_data(as_text=True)).group(1)
    assert admin.get(status_url).json["status"] == "queued"
    run_jobs(app)
    status = admin.get(status_url).json
    assert status["status"] == "done" and status["progress"] == 100 and status["next"].endswith("?fresh=1")
    second = admin.get(first.headers["Location"])
    assert second.status_code == 303, "a finished pack's waiting page moves on to the pack"
    detail = admin.get(second.headers["Location"])
    assert "给： 李国华" in page_text(detail)
    link = re.search(r'href="(/packs/[0-9a-f-]+\.zip)"', detail.get_data(as_text=True)).group(1)
    detail_text = page_text(detail)
    assert detail_text.index("下载学习包") < detail_text.index("标记为已送到"), "download first, then 已送到"
    download = admin.get(link)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.namelist()[:2] == ["健康生活小课堂（李国华）/001 第1课 冬季防跌倒.mp3",
                                          "健康生活小课堂（李国华）/002 第2课 管好血压.mp3"]
    index = page_text(admin.get("/packs/"))
    assert "健康生活小课堂" in index and "李国华" in index and "网页下载" in index
    pack_url = second.headers["Location"].split("?")[0]
    assert admin.post(pack_url + "/delivered", {"note": "交给了他女儿"}).status_code == 303
    assert "已送到：" in page_text(admin.get(pack_url)) and "交给了他女儿" in page_text(admin.get(pack_url))
    assert "已送到" in page_text(admin.get("/packs/"))
    picked = admin.post("/packs/new", {"series": ["3"], "order": "2，1", "voice": "offline-mandarin"})
    assert picked.status_code == 303
    run_jobs(app)
    download = admin.get(admin.get(picked.headers["Location"]).headers["Location"].split("?")[0] + ".zip")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert archive.namelist()[:2] == ["健康生活小课堂/001 第2课 管好血压.mp3", "健康生活小课堂/002 第1课 冬季防跌倒.mp3"]
    bad = admin.post("/packs/new", {"series": ["3"], "order": "2,x"})
    assert bad.status_code == 400 and "顺序里只能写第几课的数字" in page_text(bad)
    beyond = admin.post("/packs/new", {"series": ["3"], "order": "1,5", "voice": "offline-mandarin"})
    assert beyond.status_code == 422 and "「健康生活小课堂」没有第5课（共 2 课）" in page_text(beyond)
    two = admin.post("/packs/new", {"series": ["1", "3"], "order": "1,2", "voice": "offline-mandarin"})
    assert two.status_code == 422 and "请只勾选一个专题" in page_text(two), "“1,2” never takes another series' lessons"
    empty = admin.post("/packs/new", {"voice": "offline-mandarin"})
    assert empty.status_code == 422 and "请至少选择一个专题或一课" in page_text(empty)
    with app.extensions["xiangyin.db"].session() as session:
        assert session.get(Member, 2).name == "李国华"


def test_web_writes_straight_to_a_local_drive(admin, volunteer, app, tmp_path, monkeypatch):
    """Only on the computer named as the one drives are plugged into, and only for admins;
    where the browser seems to be (127.0.0.1 behind nginx is everyone) decides nothing."""
    import os

    from core.demo import load_demo

    drive = tmp_path / "media" / "volunteer" / "KINGSTON"
    drive.mkdir(parents=True)
    reconfigure(app, usb_drive_globs=str(tmp_path / "media" / "*" / "*"))
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(drive) or real_ismount(p))  # stands in for a mount
    with app.extensions["xiangyin.db"].session() as session:
        load_demo(session, settings_of(app))
        session.commit()
    local = {"REMOTE_ADDR": "127.0.0.1"}
    assert "直接写到" not in page_text(admin.get("/packs/new", environ_base=local)), "not the office computer"
    refused = admin.post("/packs/new", {"series": ["3"], "voice": "offline-mandarin", "drive": str(drive)})
    assert refused.status_code in (400, 403)
    reconfigure(app, usb_drives_here=True)
    assert f"直接写到 {drive}" in page_text(admin.get("/packs/new", environ_base={"REMOTE_ADDR": "192.168.1.20"}))
    assert "直接写到" not in page_text(volunteer.get("/packs/new", environ_base=local)), "volunteers never"
    response = admin.post("/packs/new", {"series": ["3"], "voice": "offline-mandarin", "member": "1",
                                         "drive": str(drive)})
    assert response.status_code == 303
    job_url = re.search(r'data-pack-url="([^"]+)"', admin.get(response.headers["Location"]).get_data(as_text=True)).group(1)
    run_jobs(app)
    status = admin.get(job_url).json
    assert status["status"] == "done" and status["message"].startswith("学习包已写好并校验通过，可以拔下 U 盘了")
    assert (drive / "健康生活小课堂（王秀英）" / "manifest.json").is_file()
    assert str(drive) in page_text(admin.get("/packs/"))
    bad = admin.post("/packs/new", {"series": ["3"], "voice": "offline-mandarin", "drive": "/etc"})
    assert bad.status_code == 400 and "找不到这个 U 盘" in page_text(bad)

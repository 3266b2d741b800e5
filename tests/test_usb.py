"""USB packs on real FAT32 images, judged by Debian's fatsort, mtools and fsck.fat."""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import uuid
import zipfile
from pathlib import Path

import pytest
from mutagen.id3 import ID3, TIT2

from audio.engines import SpeechRequest
from audio.engines.espeak import EspeakEngine
from audio.master import Clip, Gap, Tags, master
from audio.pack import (
    CATALOG_PDF,
    CATALOG_TXT,
    MANIFEST,
    DirectoryTarget,
    FatImageTarget,
    Folder,
    PackError,
    Plan,
    Track,
    safe_name,
    side_files,
    verify_pack,
    write_pack,
    write_zip,
    write_zip_file,
)
from audio.voices import get_voice
from tests.helpers.fat import fatsort_order
from tests.helpers.tools import require_tool

pytestmark = pytest.mark.slow  # writes packs onto images and checks them with mtools and fatsort

ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "LC_ALL": "C.UTF-8"}


@pytest.fixture(scope="module")
def base_mp3(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mp3")
    wav = folder / "s.wav"
    wav.write_bytes(EspeakEngine().synthesize(SpeechRequest("第一课", get_voice("offline-mandarin"))).data)
    out = folder / "base.mp3"
    master([Gap(100), Clip(wav, "wav"), Gap(100)], out, Tags("x", "y", "z"))
    return out


def make_tracks(base: Path, folder: Path, count: int) -> list[Track]:
    tracks = []
    for n in range(1, count + 1):
        path = folder / f"{n}.mp3"
        path.write_bytes(base.read_bytes())
        tags = ID3(path)
        tags.add(TIT2(encoding=1, text=f"第{n}课 标题{n}"))
        tags.save(path, v2_version=3, v1=0)
        data = path.read_bytes()
        tracks.append(Track(path, f"第{n}课 标题{n}", 2.0, hashlib.sha256(data).hexdigest(), len(data), n, f"v{n}", "测试"))
    return tracks


def plan_of(tracks, folders=None) -> Plan:
    return Plan(str(uuid.uuid4()), "乡音学习包", folders or [Folder(None, tuple(tracks))], {"title": "测试包", "member": "王秀英"})


def test_120_tracks_keep_lesson_order_on_a_real_fat32_image(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 120)
    random.Random(7).shuffle(tracks)  # the source order on disk is scrambled …
    ordered = sorted(tracks, key=lambda t: t.lesson_id)  # … the plan says lesson order
    image = tmp_path / "pack.img"
    target = FatImageTarget.create(image, 64 * 1024 * 1024)
    body = write_pack(plan_of(ordered), target)
    assert not image.exists(), "an image is named only when finished"
    target.publish()
    require_tool("fsck.fat")
    assert subprocess.run(["fsck.fat", "-n", str(image)], capture_output=True).returncode == 0
    names = [n for n in fatsort_order(image, "乡音学习包") if n.endswith(".mp3")]
    assert names == [f"{i:03d} 第{i}课 标题{i}.mp3" for i in range(1, 121)]
    mdir = subprocess.run([require_tool("mdir"), "-i", str(image), "::/"], capture_output=True, text=True, env=ENV).stdout
    top_short = mdir.split("<DIR>")[0].split()[-1]
    listing = subprocess.run([require_tool("mdir"), "-i", str(image), f"::/{top_short}"], capture_output=True, text=True,
                             env=ENV).stdout
    shorts = [line.split()[0] for line in listing.splitlines() if "MP3" in line]
    assert [s[:3] for s in shorts] == [f"{i:03d}" for i in range(1, 121)], "8.3 names keep the numeric prefix"
    target = FatImageTarget(image)
    manifest, problems = verify_pack(target)
    assert problems == [] and manifest["uuid"] == body["uuid"] and len(manifest["files"]) == 123
    tags = ID3(fileobj=_open(target, "乡音学习包/005 第5课 标题5.mp3"))
    assert tags.version == (2, 3, 0) and tags["TIT2"].text == ["第5课 标题5"]
    target.close()


def _open(target, path):
    import io

    return io.BytesIO(b"".join(target.read(path)))


def test_several_series_get_one_folder_each(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 4)
    plan = plan_of(None, [Folder("冬季学习包", tuple(tracks[:2])), Folder("防诈骗/平安", tuple(tracks[2:]))])
    out = tmp_path / "drive"
    out.mkdir()
    write_pack(plan, DirectoryTarget(out))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp3")) == [
        "乡音学习包/01 冬季学习包/001 第1课 标题1.mp3",
        "乡音学习包/01 冬季学习包/002 第2课 标题2.mp3",
        "乡音学习包/02 防诈骗 平安/001 第3课 标题3.mp3",
        "乡音学习包/02 防诈骗 平安/002 第4课 标题4.mp3",
    ]
    catalog = (out / "乡音学习包" / "目录.txt").read_bytes()
    assert catalog.startswith("\ufeff".encode()) and "001  第1课 标题1  0:02" in catalog.decode("utf-8-sig")
    playlist = (out / "乡音学习包" / "播放列表.m3u8").read_text("utf-8").splitlines()
    assert playlist[:3] == ["#EXTM3U", "#EXTINF:2,第1课 标题1", "01 冬季学习包/001 第1课 标题1.mp3"]
    pdf = (out / "乡音学习包" / "目录.pdf")
    if (pdffonts := require_tool("pdffonts")):
        fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True).stdout
        assert "NotoSansCJKSC" in fonts and " yes yes " in fonts
        text = subprocess.run([require_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True).stdout
        assert "第3课 标题3" in text and "收听人：王秀英" in text


def test_target_too_small_fails_cleanly_without_manifest(base_mp3, tmp_path):
    big = tmp_path / "big.mp3"
    big.write_bytes(os.urandom(40 * 1024 * 1024))
    track = Track(big, "第1课 很大", 60.0, hashlib.sha256(big.read_bytes()).hexdigest(), big.stat().st_size, 1)
    image = tmp_path / "small.img"
    target = FatImageTarget.create(image, 36 * 1024 * 1024)
    with pytest.raises(PackError, match=r"U 盘空间不够：需要 \d+ MB，只剩 \d+ MB"):
        write_pack(plan_of([track]), target)
    assert target.listdir("") == []
    with pytest.raises(PackError, match="找不到 manifest.json"):
        verify_pack(target)
    target.discard()
    assert list(tmp_path.glob("*.img")) == [] and list(tmp_path.glob(".tmp-*")) == []


def test_disk_full_mid_write_is_reported_and_leaves_no_manifest(base_mp3, tmp_path, monkeypatch):
    tracks = make_tracks(base_mp3, tmp_path, 3)
    drive = tmp_path / "drive"
    drive.mkdir()
    target = DirectoryTarget(drive)
    original = DirectoryTarget.copy
    calls = {"n": 0}

    def failing(self, path, source):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return original(self, path, source)

    monkeypatch.setattr(DirectoryTarget, "copy", failing)
    with pytest.raises(PackError, match="U 盘空间不够，学习包没有写完"):
        write_pack(plan_of(tracks), target)
    assert not (drive / "乡音学习包" / MANIFEST).exists()
    assert list(drive.iterdir()) == [], "no half-written track left for a player to find"
    calls["n"] = -100

    def removed(self, path, source):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(DirectoryTarget, "copy", removed)
    with pytest.raises(PackError, match="U 盘被拔出、只读或无法写入"):
        write_pack(plan_of(tracks), target, replace=True)


def test_non_empty_target_needs_replace(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 2)
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "老照片.jpg").write_bytes(b"x")
    (drive / "System Volume Information").mkdir()
    with pytest.raises(PackError, match="目标位置不是空的（已有 老照片.jpg"):
        write_pack(plan_of(tracks), DirectoryTarget(drive))
    old = Plan(str(uuid.uuid4()), "旧学习包", [Folder(None, tuple(tracks[:1]))], {"title": "旧"})
    write_pack(old, DirectoryTarget(drive), replace=True)
    body = write_pack(plan_of(tracks), DirectoryTarget(drive), replace=True)
    assert sorted(os.listdir(drive)) == ["System Volume Information", "乡音学习包", "老照片.jpg"]
    assert verify_pack(DirectoryTarget(drive))[0]["uuid"] == body["uuid"]


def test_verify_detects_a_flipped_byte_and_a_missing_file(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 3)
    drive = tmp_path / "drive"
    drive.mkdir()
    write_pack(plan_of(tracks), DirectoryTarget(drive))
    assert verify_pack(DirectoryTarget(drive))[1] == []
    victim = drive / "乡音学习包" / "002 第2课 标题2.mp3"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    (drive / "乡音学习包" / "003 第3课 标题3.mp3").unlink()
    _, problems = verify_pack(DirectoryTarget(drive))
    assert problems == ["文件已损坏 002 第2课 标题2.mp3", "缺少文件 003 第3课 标题3.mp3"]


def test_unsafe_titles_become_valid_unique_names(base_mp3, tmp_path):
    assert safe_name('a/b\\c:d*e?f"g<h>i|j. ') == "a b c d e f g h i j"
    assert safe_name("...") == "未命名"
    assert len(safe_name("长" * 200)) == 80
    [t] = make_tracks(base_mp3, tmp_path, 1)
    titles = ["第1课 路线/方针：政策？", "第1课 路线/方针：政策？", "长" * 200, "结尾点。。.", "tab\there"]
    tracks = [Track(t.source, title, 2.0, t.sha256, t.size) for title in titles]
    names = [p.rsplit("/", 1)[1] for p, _ in plan_of(tracks).files()]
    assert names[0] == "001 第1课 路线 方针：政策？.mp3"  # full-width ：？ are fine on FAT
    assert names[1] == "002 第1课 路线 方针：政策？.mp3"
    assert len(set(n.casefold() for n in names)) == len(names)
    assert all(not set(n) & set('\\/:*?"<>|') and len(n) <= 90 for n in names)
    image = tmp_path / "names.img"
    target = FatImageTarget.create(image, 40 * 1024 * 1024)
    write_pack(plan_of(tracks), target)
    target.publish()
    assert subprocess.run([require_tool("fsck.fat"), "-n", str(image)], capture_output=True).returncode == 0


def test_a_zip_that_cannot_finish_leaves_nothing_to_download(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 3)
    tracks[2].source.unlink()  # the disk is gone, full, or the store lost a file midway
    out = tmp_path / "packs" / "pack.zip"
    out.parent.mkdir()
    with pytest.raises(OSError):
        write_zip_file(plan_of(tracks), out)
    assert list(out.parent.iterdir()) == []
    (tmp_path / "again").mkdir()
    tracks = make_tracks(base_mp3, tmp_path / "again", 2)
    assert write_zip_file(plan_of(tracks), out)["files"] and zipfile.ZipFile(out).testzip() is None


def test_zip_download_holds_the_same_pack(base_mp3, tmp_path):
    tracks = make_tracks(base_mp3, tmp_path, 3)
    out = tmp_path / "pack.zip"
    body = write_zip(plan_of(tracks), out)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names[:3] == [f"乡音学习包/00{i} 第{i}课 标题{i}.mp3" for i in (1, 2, 3)]
        assert names[-1] == "乡音学习包/manifest.json"
        manifest = json.loads(archive.read(names[-1]))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read("乡音学习包/" + entry["path"])).hexdigest() == entry["sha256"]
    assert manifest == body and manifest["member"] == "王秀英"


def test_greeting_introductions_and_lessons_have_distinct_numbers_and_the_catalogs_count_lessons(base_mp3, tmp_path):
    """A player sorts by name: the greeting plays first, then the series introduction, then the
    lessons, and no two files in a folder share a number. The catalogs count the lessons the
    pack holds, and name the other tracks."""
    tracks = make_tracks(base_mp3, tmp_path, 3)
    greeting, intro = (Track(tracks[0].source, title, 2.0, tracks[0].sha256, tracks[0].size)
                       for title in ("王秀英同志您好", "专题介绍 冬季学习包"))
    single = Plan(str(uuid.uuid4()), "乡音学习包", [Folder(None, tuple(tracks), intro)], {"title": "测试包"}, greeting)
    names = [path.rsplit("/", 1)[1] for path, _ in single.files()]
    assert names == ["000 王秀英同志您好.mp3", "001 专题介绍 冬季学习包.mp3", "002 第1课 标题1.mp3",
                     "003 第2课 标题2.mp3", "004 第3课 标题3.mp3"]
    several = Plan(str(uuid.uuid4()), "乡音学习包", [Folder("冬季学习包", tuple(tracks[:2]), intro),
                                                  Folder("健康", tuple(tracks[2:]))], {"title": "测试包"}, greeting)
    paths = [path for path, _ in several.files()]
    assert paths == ["乡音学习包/000 王秀英同志您好.mp3", "乡音学习包/01 冬季学习包/000 专题介绍 冬季学习包.mp3",
                     "乡音学习包/01 冬季学习包/001 第1课 标题1.mp3", "乡音学习包/01 冬季学习包/002 第2课 标题2.mp3",
                     "乡音学习包/02 健康/001 第3课 标题3.mp3"]
    for folder in {path.rsplit("/", 1)[0] for path in paths}:
        prefixes = [path.rsplit("/", 1)[1][:3] for path in paths if path.rsplit("/", 1)[0] == folder]
        assert len(prefixes) == len(set(prefixes))
    sides = side_files(single)
    assert "共 3 课（另有开场问候和专题介绍）" in sides[CATALOG_TXT].decode("utf-8-sig")
    pdf = tmp_path / "目录.pdf"
    pdf.write_bytes(sides[CATALOG_PDF])
    text = subprocess.run([require_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True).stdout
    assert "共 3 课（另有开场问候和专题介绍）" in text.replace("\n", "")

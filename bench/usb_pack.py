"""USB pack writing benchmark: our writer vs. `cp -r` of the same files.

Builds a pack of at least 1 GB of real MP3 audio (one mastered lesson, re-tagged per track so
every file is distinct) into a directory. Our writer syncs every file as it goes, re-reads and
hashes everything (verification), then writes the manifest. It is compared with `cp -r` alone
and with `cp -r` followed by `sync` (what a volunteer must wait for before pulling the drive).
Goal: ≤ 1.2 × cp -r + sync, verification included.

Run: .venv/bin/python bench/usb_pack.py
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mutagen.id3 import ID3, TIT2  # noqa: E402

from audio.engines import SpeechRequest  # noqa: E402
from audio.engines.espeak import EspeakEngine  # noqa: E402
from audio.master import Clip, Gap, Tags, master  # noqa: E402
from audio.pack import DirectoryTarget, Folder, Plan, Track, write_pack  # noqa: E402
from audio.voices import get_voice  # noqa: E402

TARGET_BYTES = 1024**3


def sources(folder: Path) -> list[Track]:
    text = "社区党员要按时参加组织生活，认真学习党的理论，积极帮助身边的困难群众。" * 12
    wav = folder / "lesson.wav"
    wav.write_bytes(EspeakEngine().synthesize(SpeechRequest(text, get_voice("offline-mandarin"))).data)
    base = folder / "base.mp3"
    master([Gap(500), Clip(wav, "wav"), Gap(500)], base, Tags("base", "bench", "xiangyin"))
    tracks, total, n = [], 0, 0
    while total < TARGET_BYTES:
        n += 1
        path = folder / "cache" / f"{n:04d}.mp3"
        path.parent.mkdir(exist_ok=True)
        shutil.copyfile(base, path)
        tags = ID3(path)
        tags.add(TIT2(encoding=1, text=f"第{n}课 基准测试"))
        tags.save(path, v2_version=3, v1=0)
        data = path.read_bytes()
        tracks.append(Track(path, f"第{n}课 基准测试", 60.0, hashlib.sha256(data).hexdigest(), len(data), n))
        total += len(data)
    return tracks


def main() -> None:
    global TARGET_BYTES
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=TARGET_BYTES // 1024**2, help="size of the pack written")
    TARGET_BYTES = parser.parse_args().megabytes * 1024**2
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        root = Path(tmp)
        tracks = sources(root)
        size = sum(t.size for t in tracks)
        folders = [Folder(f"第{i + 1}组", tuple(tracks[i:i + 200])) for i in range(0, len(tracks), 200)]
        plan = Plan(str(uuid.uuid4()), "基准学习包", folders, {"title": "基准"})
        subprocess.run(["sync"], check=True)

        cp_target = root / "cp"
        start = time.perf_counter()
        subprocess.run(["cp", "-r", str(root / "cache"), str(cp_target)], check=True)
        cp_s = time.perf_counter() - start
        subprocess.run(["sync"], check=True)
        cp_sync_s = time.perf_counter() - start
        shutil.rmtree(cp_target)
        subprocess.run(["sync"], check=True)

        drive = root / "drive"
        drive.mkdir()
        start = time.perf_counter()
        write_pack(plan, DirectoryTarget(drive))
        ours_s = time.perf_counter() - start

    print(f"{len(tracks)} tracks, {size / 1024**3:.2f} GB, {len(folders)} folders")
    print(f"  cp -r:               {cp_s:7.2f} s")
    print(f"  cp -r + sync:        {cp_sync_s:7.2f} s")
    print(f"  xiangyin write_pack: {ours_s:7.2f} s  (fsync per file, re-read and SHA-256 of every file, manifest)")
    print(f"  ratio vs cp -r:        {ours_s / cp_s:5.2f} x")
    print(f"  ratio vs cp -r + sync: {ours_s / cp_sync_s:5.2f} x  (goal <= 1.2x)")


if __name__ == "__main__":
    main()

"""`xiangyin pack write` and `pack image` killed at random points: a player never finds a cut
track, `pack verify` says what is missing, an image is never named as finished unless it was
verified, and a finished image is read by mtools with its checks on."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.tools import require_tool

pytestmark = pytest.mark.slow  # renders a series, then writes it many times

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (1, 2, 3)


@pytest.fixture
def cli_env(make_app, data_dir):
    app = make_app(migrate=False)
    from scripts.cli import cli

    assert app.test_cli_runner().invoke(cli, ["demo", "--no-audio"]).exit_code == 0
    # make_app named its database in the environment (PostgreSQL); the folder is the test's.
    return {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT), "LC_ALL": "C.UTF-8"}


def xiangyin(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from scripts.cli import cli; cli()", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finished(process: subprocess.Popen) -> str:
    output = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 0, output
    return output


def killed_when(process: subprocess.Popen, started, delay: float) -> None:
    """SIGKILL `delay` seconds after `started()` first holds (polled every millisecond)."""
    deadline = time.monotonic() + 120
    while not started() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(30)


def test_a_killed_pack_write_leaves_no_playable_cut_track(cli_env, tmp_path):
    pack = ["--series", "1", "--series", "3", "--member", "1", "--greeting"]
    reference = tmp_path / "reference"
    reference.mkdir()
    finished(xiangyin(cli_env, "pack", "write", "--to", str(reference), *pack))  # renders, then writes
    whole = {path.name: path.read_bytes() for path in reference.rglob("*.mp3")}
    assert len(whole) >= 5
    for seed in SEEDS:
        drive = tmp_path / f"drive{seed}"
        drive.mkdir()
        process = xiangyin(cli_env, "pack", "write", "--to", str(drive), *pack)
        killed_when(process, lambda d=drive: any(d.rglob("~XY*.TMP")), random.Random(seed).uniform(0, 0.05))
        for track in drive.rglob("*.mp3"):
            assert track.read_bytes() == whole[track.name], f"seed {seed}: {track.name} is not whole"
        verify = subprocess.run([sys.executable, "-c", "from scripts.cli import cli; cli()", "pack", "verify",
                                 str(drive)], env=cli_env, capture_output=True, text=True)
        if not list(drive.glob("*/manifest.json")):
            assert verify.returncode == 1 and "没有写完" in verify.stderr and "manifest.json" in verify.stderr, \
                verify.stderr
            assert "Traceback" not in verify.stderr
        again = xiangyin(cli_env, "pack", "write", "--to", str(drive), "--replace", *pack)
        finished(again)
        assert {path.name: path.read_bytes() for path in drive.rglob("*.mp3")} == whole
        assert not list(drive.rglob("~XY*.TMP")) and not list(drive.rglob(".xiangyin-plan.json"))


def test_a_killed_pack_image_is_never_named_as_finished(cli_env, tmp_path):
    mdir = require_tool("mdir")
    pack = ["--lessons", "1,2,3,4"]
    first = tmp_path / "first.img"
    finished(xiangyin(cli_env, "pack", "image", "--size", "40M", "-o", str(first), *pack))
    strict = {key: value for key, value in cli_env.items() if key != "MTOOLS_SKIP_CHECK"}
    listing = subprocess.run([mdir, "-i", str(first), "::/"], env=strict, capture_output=True, text=True)
    assert listing.returncode == 0 and "<DIR>" in listing.stdout, listing.stderr
    for seed in SEEDS:
        image = tmp_path / f"pack{seed}.img"
        process = xiangyin(cli_env, "pack", "image", "--size", "40M", "-o", str(image), *pack)
        killed_when(process, lambda seed=seed: any(tmp_path.glob(f".tmp-*-pack{seed}.img")),
                    random.Random(seed).uniform(0, 1.5))
        if image.exists():
            verify = subprocess.run([sys.executable, "-c", "from scripts.cli import cli; cli()", "pack", "verify",
                                     str(image)], env=cli_env, capture_output=True, text=True)
            assert verify.returncode == 0, f"seed {seed}: a named image must be a verified one: {verify.stderr}"
        again = xiangyin(cli_env, "pack", "image", "--size", "40M", "-o", str(image), *pack)
        finished(again)
        assert not list(tmp_path.glob(f".tmp-*-pack{seed}.img")), "the killed run's partial image was swept"

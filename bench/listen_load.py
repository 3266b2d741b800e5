"""Listen-page and heartbeat load: the app under gunicorn, driven by wrk on loopback.

Sets up a data directory with one lesson rendered by the offline voice, a printed code and
SESSIONS listen sessions that have pressed play (signed cookies, as the page issues them).
Then, for DURATION seconds each:
  1. wrk GETs the listen page;
  2. wrk POSTs heartbeats, each session in turn, each claiming CLAIM seconds (far less than
     the wall time between two beats of one session, so the server's caps never bite);
  3. the same gunicorn and wrk settings against a bare WSGI app that answers a constant
     (the ceiling of the server and load generator on this machine).
It prints requests/s, p99 latency, the ratios to the bare app, and whether the listened
seconds stored in the database equal CLAIM × the heartbeats answered 200 (nothing lost,
nothing invented). Goal: ≥ 1,500 requests/s on 2 cores, nothing lost.

Defaults: SQLite with 2 gunicorn sync workers (more workers only add SQLite lock waits on 2
cores); `--db postgresql` runs a throw-away PostgreSQL cluster (as the tests do) and is meant
with `--workers 4`. One wrk thread with 16 connections (the load generator shares the 2
cores; WRK_THREADS and WRK_CONNECTIONS override).
Needs wrk (apt-get install wrk) and gunicorn (pip install -e .[bench]).
Run: .venv/bin/python bench/listen_load.py [--duration 20] [--workers 2] [--db postgresql --workers 4]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SESSIONS = 5000
CLAIM = 0.05
WRK_THREADS = int(os.environ.get("WRK_THREADS", 1))
CONNECTIONS = int(os.environ.get("WRK_CONNECTIONS", 16))
WARM_UP = 3

WRK_SCRIPT = textwrap.dedent("""
    local threads = {}
    local counter = 0
    function setup(thread)
      thread:set("id", counter)
      counter = counter + 1
      table.insert(threads, thread)
    end
    function init(args)
      -- thread k of T takes sessions k, k+T, k+2T ...: no session is beaten by two threads at once
      sids, bodies, n, step = {}, {}, id, tonumber(args[2])
      for line in io.lines(args[1]) do
        local sid, body = line:match("([^\\t]+)\\t(.+)")
        table.insert(sids, sid); table.insert(bodies, body)
      end
      ok, other = 0, 0
    end
    function request()
      n = n + step
      local i = (n % #sids) + 1
      return wrk.format("POST", "/listen/beat",
        {["Content-Type"] = "text/plain", ["Cookie"] = "xy_listen=" .. sids[i]}, bodies[i])
    end
    function response(status, headers, body)
      if status == 200 then ok = ok + 1 else other = other + 1 end
    end
    function done(summary, latency, requests)
      local total_ok, total_other = 0, 0
      for _, thread in ipairs(threads) do
        total_ok = total_ok + thread:get("ok")
        total_other = total_other + thread:get("other")
      end
      io.write(string.format("RESULT %d %d %d %.3f %d %d %d\\n", summary.requests, total_ok, total_other,
        summary.duration / 1e6, latency:percentile(99.0), summary.errors.connect + summary.errors.read
        + summary.errors.write + summary.errors.timeout, summary.errors.status))
    end
""")

GET_SCRIPT = textwrap.dedent("""
    function done(summary, latency, requests)
      io.write(string.format("RESULT %d %d %d %.3f %d %d %d\\n", summary.requests, summary.requests
        - summary.errors.status, summary.errors.status, summary.duration / 1e6, latency:percentile(99.0),
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
        summary.errors.status))
    end
""")

BARE_APP = textwrap.dedent("""
    def app(environ, start_response):
        environ["wsgi.input"].read()
        body = b'{"listened": 0.05, "accepted": 0.05, "counted": false, "completed": false}'
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data_dir: Path, sessions_file: Path, config: dict) -> tuple[str, int]:
    """A lesson with real offline audio, one printed code, SESSIONS phones that pressed play."""
    from app import create_app, settings_of
    from core.lessons import add_lesson, create_series
    from core.listening import Rules
    from core.plays import issue_sid, record_beat, verify_sid
    from core.rendering import request_render
    from core.sharing import share_for
    from core.worker import InProcessRunner

    app = create_app({"DATA_DIR": str(data_dir), **config})
    database = app.extensions["xiangyin.db"]
    database.upgrade()
    with database.session() as session:
        series = create_series(session, "压力测试", actor="基准测试")
        lesson = add_lesson(session, series, "第一课", "社区党员要按时参加组织生活，认真学习党的理论。" * 30)
        rendition, _ = request_render(session, lesson, settings_of(app), voice_id="offline-mandarin")
        session.commit()
        rendition_id = rendition.id
    InProcessRunner(database, settings_of(app)).run_until_idle()
    with database.session() as session:
        from core.models import Lesson, Rendition

        rendition = session.get(Rendition, rendition_id)
        assert rendition.status == "done", rendition.error
        share = share_for(session, lesson=session.get(Lesson, lesson.id))
        session.commit()
        lines = []
        for _ in range(SESSIONS):
            cookie = issue_sid(settings_of(app).secret_key)
            record_beat(session, verify_sid(cookie, settings_of(app).secret_key), share.token, rendition.id, "play", 0, 0, Rules())
            body = json.dumps({"t": share.token, "r": rendition.id, "e": "beat", "d": CLAIM, "p": 1.0})
            lines.append(f"{cookie}\t{body}")
        sessions_file.write_text("\n".join(lines) + "\n")
        token = share.token
    database.dispose()
    return token, rendition_id


def stored(database_url: str) -> tuple[float, int]:
    """Listened seconds and heartbeats applied, as the database has them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as conn:
        # Opening a listen counts as its first beat (the beat limit's burst); heartbeats are the rest.
        seconds, applied = conn.execute(text(
            "SELECT COALESCE(SUM(listened), 0), COALESCE(SUM(beats - 1), 0) FROM listens")).one()
    engine.dispose()
    return float(seconds), int(applied)


def serve(target: str, workers: int, env: dict, cwd: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--backlog", "2048", target],
        env=env, cwd=cwd,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def wrk(url: str, script: Path, duration: int, args: list[str] | None = None) -> dict:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "5s", "-s", str(script), url]
    if args:
        command += ["--", *args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, ok, other, seconds, p99_us, socket_errors, _ = line.split()[1:]
    return {"requests": int(requests), "ok": int(ok), "other": int(other), "seconds": float(seconds),
            "rps": int(requests) / float(seconds), "p99_ms": int(p99_us) / 1000, "socket_errors": int(socket_errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        data_dir = root / "data"
        sessions_file = root / "sessions.tsv"
        config = {}
        if options.db == "postgresql":
            from tests.helpers.postgres import Cluster, Server

            cluster = Cluster()
            stack.callback(cluster.stop)
            server = Server(cluster.base_url)
            stack.callback(server.dispose)
            config = {"DATABASE_URL": server.url(server.create()), "SECRET_KEY": "l" * 64}
        database_url = config.get("DATABASE_URL") or f"sqlite:///{data_dir / 'xiangyin.sqlite3'}"
        token, _ = prepare(data_dir, sessions_file, config)
        beat_script, get_script = root / "beat.lua", root / "get.lua"
        beat_script.write_text(WRK_SCRIPT)
        get_script.write_text(GET_SCRIPT)
        (root / "bare.py").write_text(BARE_APP)
        env = dict(os.environ, XIANGYIN_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT),
                   **{f"XIANGYIN_{key}": value for key, value in config.items()},
                   # One loopback address stands for thousands of phones here, and each scripted
                   # phone beats far faster than a real one: the limits are not what is measured.
                   XIANGYIN_NEW_LISTENERS_PER_ADDRESS="1000000", XIANGYIN_HEARTBEAT_SESSION_BURST="1000000000")
        beat_args = [str(sessions_file), str(WRK_THREADS)]
        process, url = serve("app:create_app()", options.workers, env, ROOT)
        try:
            # Warm every worker (imports, templates, connections) before measuring.
            wrk(f"{url}/l/{token}", get_script, WARM_UP)
            warm = wrk(url, beat_script, WARM_UP, beat_args)
            page = wrk(f"{url}/l/{token}", get_script, options.duration)
            beats = wrk(url, beat_script, options.duration, beat_args)
        finally:
            process.terminate()
            process.wait()
        bare_process, bare_url = serve("bare:app", options.workers, env, root)
        try:
            wrk(bare_url, beat_script, WARM_UP, beat_args)
            bare = wrk(bare_url, beat_script, options.duration, beat_args)
        finally:
            bare_process.terminate()
            bare_process.wait()
        seconds, applied = stored(database_url)
        answered = warm["ok"] + beats["ok"]

    print(f"{options.db}, gunicorn {options.workers} sync workers, wrk {WRK_THREADS} threads × {CONNECTIONS} connections, "
          f"{options.duration} s each, "
          f"{os.cpu_count()} cores")
    print(f"listen page : {page['rps']:8.0f} requests/s  p99 {page['p99_ms']:6.1f} ms  non-2xx {page['other']}")
    print(f"heartbeats  : {beats['rps']:8.0f} requests/s  p99 {beats['p99_ms']:6.1f} ms  "
          f"200: {beats['ok']}  refused: {beats['other']}  socket errors: {beats['socket_errors']}")
    print(f"bare WSGI   : {bare['rps']:8.0f} requests/s  p99 {bare['p99_ms']:6.1f} ms  (same server and client)")
    print(f"ratio heartbeats / bare {beats['rps'] / bare['rps']:.2f}   listen page / bare {page['rps'] / bare['rps']:.2f}")
    # wrk stops with up to one request per connection in flight: the server may have applied
    # those without wrk seeing the answer, so applied may exceed answered by that much.
    exact = abs(seconds - applied * CLAIM) <= 1e-6 * max(1.0, seconds)
    complete = 0 <= applied - answered <= 2 * CONNECTIONS
    print(f"heartbeats answered 200: {answered}  applied in {options.db}: {applied}  "
          f"listened seconds stored {seconds:.3f} = {applied} × {CLAIM}: {'yes' if exact else 'NO'}")
    lost = not (exact and complete)
    print("nothing lost, nothing invented" if not lost else "MISMATCH between answered, applied and stored")
    goal = min(page["rps"], beats["rps"]) >= 1500 and not lost and beats["other"] == 0
    print("goal (≥ 1,500 requests/s, nothing lost):", "met" if goal else "NOT met")


if __name__ == "__main__":
    main()

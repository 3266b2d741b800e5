"""The real servers against idle and trickling clients: a meeting room of phones holding
keep-alive connections, and thousands of sockets that send their headers a byte at a time,
must not stall the page another phone asks for."""
from __future__ import annotations

import contextlib
import http.client
import os
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

from app import settings_of
from core.models import Lesson
from tests.helpers.nginx import nginx_in_front
from tests.helpers.ports import free_port, wait_for

pytestmark = pytest.mark.slow  # starts real servers

ROOT = Path(__file__).resolve().parent.parent
IDLE, TRICKLING = 1000, 4000
# Longer than the embedded server's header deadline (10 s) and nginx's (client_header_timeout).
TRICKLE_SECONDS = 16


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def timed_get(port: int, path: str = "/login") -> tuple[float, int, str]:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks).decode("utf-8", "replace")
    status = int(answer.split(" ", 2)[1])
    return time.monotonic() - start, status, answer


def hog(port: int) -> tuple[list[socket.socket], list[socket.socket]]:
    """IDLE connections that send nothing and TRICKLING ones that have begun their headers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 16384)), hard))
    idle, trickling = [], []
    for _ in range(IDLE):
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    for _ in range(TRICKLING):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        with contextlib.suppress(OSError):
            conn.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
        conn.setblocking(False)
        trickling.append(conn)
    return idle, trickling


def timed_from(port: int, source: str, path: str = "/login") -> tuple[float, int, str]:
    """A request from another phone (another loopback address than the crowd's)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks).decode("utf-8", "replace")
    return time.monotonic() - start, int(answer.split(" ", 2)[1]), answer


def assert_still_answers(port: int) -> None:
    """While IDLE sockets sit open and TRICKLING ones each send one more header byte every
    two seconds, for longer than any header deadline, the login page answers another phone
    within a second every time it asks."""
    for _ in range(4):  # the first request of a process compiles templates: not what is measured
        timed_get(port)
    idle, trickling = hog(port)
    try:
        ends = time.monotonic() + TRICKLE_SECONDS
        while time.monotonic() < ends:
            for conn in trickling:
                with contextlib.suppress(OSError):
                    conn.send(b"x")
            seconds, status, answer = timed_from(port, "127.0.0.2")
            assert status == 200 and "登录" in answer, answer[:300]
            assert seconds < 1.0, f"login page took {seconds:.2f} s with {IDLE} idle and {TRICKLING} trickling clients"
            time.sleep(2)
    finally:
        for conn in idle + trickling:
            conn.close()


@pytest.fixture
def migrated(make_app, data_dir):
    make_app()
    # make_app cleared the XIANGYIN_* environment, then named its database there (PostgreSQL).
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    return env


def test_embedded_server_survives_idle_and_trickling_clients(migrated):
    port = free_port()
    command = [sys.executable, "-c", "from scripts.cli import cli; cli()", "run", "--port", str(port), "--no-worker"]
    server = subprocess.Popen(command, env=migrated, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(port, server)
        assert_still_answers(port)
    finally:
        server.terminate()
        server.wait(10)


def test_a_header_sent_a_byte_at_a_time_is_cut_off_at_the_deadline(migrated):
    port = free_port()
    command = [sys.executable, "-c", "from scripts.cli import cli; cli()", "run", "--port", str(port), "--no-worker"]
    server = subprocess.Popen(command, env={**migrated, "XIANGYIN_SERVER_HEADER_TIMEOUT": "2"},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(port, server)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            started = time.monotonic()
            closed = False
            for byte in b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: trickle-trickle-trickle":
                try:
                    conn.sendall(bytes([byte]))
                    conn.settimeout(0.4)
                    if conn.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                    break
            assert closed, "the trickling header was never cut off"
            assert time.monotonic() - started < 8
        seconds, status, _ = timed_get(port)
        assert status == 200 and seconds < 1.0
    finally:
        server.terminate()
        server.wait(10)


def test_nginx_in_front_of_gunicorn_survives_idle_and_trickling_clients(migrated, tmp_path):
    with nginx_in_front(migrated, tmp_path) as (_, proxy_port, _):
        assert_still_answers(proxy_port)


@pytest.mark.slow
def test_nginx_sends_the_audio_the_app_allowed_by_x_accel_redirect(make_app, data_dir, tmp_path):
    from core.lessons import add_lesson, create_series
    from core.sharing import share_for
    from tests.helpers.jobs import render, rendition_file

    app = make_app()
    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "冬季学习", actor=None), "第一课", "请大家按时参加组织生活。")
        session.commit()
        lesson_id = lesson.id
    rendition_id = render(app, lesson_id, voice_id="offline-mandarin")
    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, lesson=session.get(Lesson, lesson_id)).token
        session.commit()
    path = rendition_file(app, rendition_id)
    audio = settings_of(app).paths.audio
    url = f"/l/{token}/a/{rendition_id}/{path.name}"
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
           "XIANGYIN_AUDIO_ACCEL_REDIRECT": "/_xiangyin_audio/"}
    with nginx_in_front(env, tmp_path, audio=audio) as (app_port, proxy_port, _):
        direct = http_get(app_port, url)
        assert direct.status == 200 and direct.body == b""
        assert direct.headers["X-Accel-Redirect"] == "/_xiangyin_audio/" + path.relative_to(audio).as_posix()
        whole = http_get(proxy_port, url)
        assert whole.status == 200 and whole.body == path.read_bytes()
        assert whole.headers["Content-Type"] == "audio/mpeg" and "immutable" in whole.headers["Cache-Control"]
        assert len(whole.headers.get_all("Cache-Control")) == 1, "once: the app's, passed on by nginx"
        first = http_get(proxy_port, url, {"Range": "bytes=0-1"})
        assert first.status == 206 and first.body == path.read_bytes()[:2]
        assert http_get(proxy_port, "/_xiangyin_audio/" + path.relative_to(audio).as_posix()).status == 404
        wrong = url.replace(f"/l/{token}/", "/l/nosuchcode/")
        assert http_get(proxy_port, wrong).status == 404, "the app still checks the code"

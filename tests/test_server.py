"""The real servers against idle and slow clients: a meeting room of phones holding keep-alive
connections, and clients that never finish their headers, must not stall the listen page."""
from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.ports import free_port, wait_for
from tests.helpers.tools import require_tool

pytestmark = pytest.mark.slow  # starts real servers

ROOT = Path(__file__).resolve().parent.parent
IDLE, SLOW = 1000, 100


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


def hog(port: int) -> list[socket.socket]:
    """IDLE connections that send nothing and SLOW ones stuck halfway through their headers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    held = []
    for _ in range(IDLE):
        held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    for _ in range(SLOW):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
        held.append(conn)
    return held


def assert_still_answers(port: int) -> None:
    for _ in range(4):  # the first request of a process compiles templates: not what is measured
        timed_get(port)
    held = hog(port)
    try:
        time.sleep(0.5)
        for _ in range(3):
            seconds, status, answer = timed_get(port)
            assert status == 200 and "登录" in answer, answer[:300]
            assert seconds < 1.0, f"login page took {seconds:.2f} s with {IDLE} idle and {SLOW} slow clients"
    finally:
        for conn in held:
            conn.close()


@pytest.fixture
def migrated(make_app, data_dir):
    make_app()
    # make_app cleared the XIANGYIN_* environment, then named its database there (PostgreSQL).
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    return env


def test_embedded_server_survives_idle_and_slow_clients(migrated):
    port = free_port()
    command = [sys.executable, "-c", "from scripts.cli import cli; cli()", "run", "--port", str(port), "--no-worker"]
    server = subprocess.Popen(command, env=migrated, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(port, server)
        assert_still_answers(port)
    finally:
        server.terminate()
        server.wait(10)


def test_nginx_in_front_of_gunicorn_survives_idle_and_slow_clients(migrated, tmp_path):
    """The shipped nginx configuration, as documented, in front of `gunicorn -w 2`."""
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.fail("gunicorn is part of the test extras")
    app_port, proxy_port = free_port(), free_port()
    site = (ROOT / "deploy" / "nginx-xiangyin.conf").read_text()
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{proxy_port};", site)
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "nginx.conf").write_text(f"""
worker_processes 1;
worker_rlimit_nofile 8192;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {site}
}}
""")
    env = {**migrated, "XIANGYIN_PROXY_COUNT": "1"}
    app_server = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{app_port}", "app:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proxy = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(app_port, app_server)
        wait_for(proxy_port, proxy)
        assert_still_answers(proxy_port)
    finally:
        proxy.terminate()
        app_server.terminate()
        proxy.wait(10)
        app_server.wait(10)

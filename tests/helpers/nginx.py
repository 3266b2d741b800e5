"""The shipped nginx configuration (deploy/) in front of gunicorn, as the README sets it up."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.helpers.ports import free_port, wait_for
from tests.helpers.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent.parent


class Proxied(NamedTuple):
    app: int  # gunicorn's port
    port: int  # nginx's (the https one with TLS)
    plain: int  # nginx's plain http port with TLS (it redirects), else the same as `port`


@contextlib.contextmanager
def nginx_in_front(env: dict, tmp_path: Path, audio: Path | None = None, conf: str = "nginx-xiangyin.conf",
                   tls: tuple[Path, Path] | None = None) -> Iterator[Proxied]:
    """A shipped nginx configuration, as documented, in front of `gunicorn -w 2`; `tls`
    names a certificate and its key for the https configuration."""
    nginx = require_tool("nginx", "/usr/sbin/nginx")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.fail("gunicorn is part of the test extras")
    app_port, proxy_port = free_port(), free_port()
    site = (ROOT / "deploy" / conf).read_text()
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    plain_port = proxy_port
    if tls is not None:
        plain_port = free_port()
        site = site.replace("listen 80;", f"listen 127.0.0.1:{plain_port};")
        site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{proxy_port} ssl")
        site = site.replace("/etc/xiangyin/tls.crt", str(tls[0])).replace("/etc/xiangyin/tls.key", str(tls[1]))
    else:
        site = site.replace("listen 80;", f"listen 127.0.0.1:{proxy_port};")
    if audio is not None:
        site = site.replace("alias /var/lib/xiangyin/audio/;", f"alias {audio}/;")
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    # Started as root, nginx's workers would run as nobody, who cannot enter the test's
    # private temporary folders; a real installation gives www-data read access instead.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
worker_rlimit_nofile 32768;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 16384; }}
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
    app_server = subprocess.Popen(
        [str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{app_port}", "app:create_app()"],
        cwd=ROOT, env={**env, "XIANGYIN_PROXY_COUNT": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proxy = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(app_port, app_server)
        wait_for(proxy_port, proxy)
        yield Proxied(app_port, proxy_port, plain_port)
    finally:
        proxy.terminate()
        app_server.terminate()
        proxy.wait(10)
        app_server.wait(10)

"""What deploy/ ships works as written: the systemd units pass systemd's own check and run
the service as its own user with its secrets handed over as files, and the TLS nginx
configuration serves the site over https with a self-signed certificate for a LAN address."""
from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.nginx import nginx_in_front
from tests.helpers.tools import require_tool

pytestmark = pytest.mark.slow
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.mark.parametrize("unit", ["xiangyin-web.service", "xiangyin-worker.service"])
def test_the_systemd_units_pass_systemds_check(unit, tmp_path):
    analyze = require_tool("systemd-analyze")
    text = (DEPLOY / unit).read_text()
    here = tmp_path / unit
    here.write_text(text.replace("/opt/xiangyin/.venv/bin", str(Path(sys.executable).parent)))
    checked = subprocess.run([analyze, "verify", "--man=no", str(here)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stderr.strip() == "", checked.stderr
    settings = dict(re.findall(r"^(User|Restart|NoNewPrivileges|ProtectSystem)=(.+)$", text, re.M))
    assert settings == {"User": "xiangyin", "Restart": "always", "NoNewPrivileges": "true", "ProtectSystem": "strict"}
    assert "XIANGYIN_SECRET_KEY_FILE=%d/secret_key" in text and "XIANGYIN_SECRET_KEY=" not in text


def test_the_tls_configuration_serves_https_and_sends_plain_requests_there(tmp_path, make_app, data_dir):
    openssl = require_tool("openssl")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=xiangyin",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    make_app()  # the database the served app opens
    env = {**os.environ, "XIANGYIN_DATA_DIR": str(data_dir), "PYTHONPATH": str(DEPLOY.parent)}
    trusted = ssl.create_default_context(cafile=str(cert))
    with nginx_in_front(env, tmp_path, conf="nginx-xiangyin-tls.conf", tls=(cert, key)) as proxied:
        with urllib.request.urlopen(f"https://127.0.0.1:{proxied.port}/healthz", context=trusted) as answer:
            assert answer.status == 200 and answer.read() == b"ok\n"
        with urllib.request.urlopen(f"https://127.0.0.1:{proxied.port}/login", context=trusted) as answer:
            assert "登录" in answer.read().decode()

        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        plain = urllib.request.build_opener(Stay())
        with pytest.raises(urllib.error.HTTPError) as moved:
            plain.open(f"http://127.0.0.1:{proxied.plain}/l/abc123")
        assert moved.value.code == 301
        assert moved.value.headers["Location"] == "https://127.0.0.1/l/abc123"

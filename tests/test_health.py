"""/healthz, /readyz and /metrics: reachable without a login, saying nothing secret, and
/readyz following the real dependencies down and back up without a restart."""
from __future__ import annotations

import re

import pytest

from core import health
from core.lessons import add_lesson, create_series
from core.rendering import request_render
from tests.helpers.redis_server import redis_server
from tests.helpers.signal import SignalGate


@pytest.fixture
def fresh(monkeypatch):
    """Every /readyz asks the dependencies again (the endpoint otherwise answers from a copy
    a few seconds old)."""
    monkeypatch.setattr(health, "READY_FOR_SECONDS", 0.0)


def test_healthz_and_readyz_answer_anyone_without_secrets(app, anonymous):
    alive = anonymous.get("/healthz")
    assert alive.status_code == 200 and alive.get_data(as_text=True) == "ok\n"
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200, ready.get_data(as_text=True)
    assert ready.get_json() == {"ready": True, "checks": {"database": "ok", "storage": "ok"}}
    settings = app.extensions["xiangyin.settings"]
    for secret in (settings.secret_key, settings.database_url, str(settings.data_dir)):
        assert secret not in ready.get_data(as_text=True)


def test_readyz_says_when_the_database_needs_its_migrations(make_app):
    app = make_app(migrate=False)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503 and "xiangyin init" in answer.get_json()["checks"]["database"]
    assert app.test_client().get("/healthz").status_code == 200, "alive all the same"


@pytest.mark.slow  # starts SeaweedFS and Redis
def test_readyz_follows_the_store_and_the_broker_down_and_back(make_app, tmp_path, seaweed, fresh):
    bucket = seaweed.new_bucket()
    store_gate = SignalGate(int(seaweed.endpoint.rsplit(":", 1)[1]))
    with redis_server(tmp_path) as redis_url:
        redis_gate = SignalGate(int(redis_url.rsplit(":", 1)[1].split("/")[0]))
        app = make_app(**seaweed.settings(bucket, S3_ENDPOINT=store_gate.url),
                       REDIS_URL=f"redis://127.0.0.1:{redis_gate.port}/0")
        client = app.test_client()
        try:
            assert client.get("/readyz").get_json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}
            store_gate.down()
            down = client.get("/readyz")
            assert down.status_code == 503 and down.get_json()["checks"]["storage"] == "文件存储（s3）无法写入"
            store_gate.restore()
            redis_gate.down()
            down = client.get("/readyz")
            assert down.status_code == 503 and down.get_json()["checks"]["broker"].startswith("Redis 连不上")
            assert down.get_json()["checks"]["storage"] == "ok", "the store came back without a restart"
            redis_gate.restore()
            assert client.get("/readyz").status_code == 200
        finally:
            store_gate.close()
            redis_gate.close()


@pytest.mark.slow  # starts a PostgreSQL cluster of its own
def test_readyz_follows_postgresql_down_and_back(make_app, fresh):
    from tests.helpers.postgres import Cluster, Server

    cluster = Cluster()
    server = Server(cluster.base_url)
    app = make_app(DATABASE_URL=server.url(server.create()), SECRET_KEY="k" * 64)
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        cluster.pause()
        down = client.get("/readyz")
        assert down.status_code == 503 and down.get_json()["checks"]["database"].startswith("数据库连不上")
        assert "xiangyin" not in down.get_data(as_text=True), "no user, host or database name"
        cluster.resume()
        back = client.get("/readyz")
        assert back.status_code == 200, back.get_json()
    finally:
        app.extensions["xiangyin.db"].dispose()
        server.dispose()
        cluster.stop()


def test_readyz_asked_many_times_checks_once(app, anonymous, monkeypatch):
    asked = []
    monkeypatch.setattr(health, "_database", lambda database: asked.append(1) or "ok")
    for _ in range(200):
        assert anonymous.get("/readyz").status_code == 200
    assert len(asked) == 1


def test_metrics_only_for_the_scraper_with_the_token(make_app, admin):
    assert admin.get("/metrics").status_code == 404, "no token configured: no such page"
    app = make_app(METRICS_TOKEN="scrape-me")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "按时交纳党费", "内容。")
        request_render(session, lesson, app.extensions["xiangyin.settings"], voice_id="offline-mandarin")
        session.commit()
    client.post("/listen/beat", data="not json", content_type="application/json")
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    text = scraped.get_data(as_text=True)
    assert re.search(r'^xiangyin_jobs_waiting\{kind="render",status="queued"\} 1\.0$', text, re.M), text
    assert re.search(r'^xiangyin_heartbeats_total\{outcome="refused"\} [1-9]', text, re.M), text
    assert "xiangyin_fallbacks_total 0.0" in text

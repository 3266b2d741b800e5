"""/healthz, /readyz and /metrics for the operator's monitor and load balancer: no login, no
page around them, nothing secret in them (core/health.py)."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, current_app, jsonify, request

from core.health import Readiness, metrics_text
from web import db, public, settings

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz():
    """The process is alive and answering; nothing else is asked."""
    return current_app.response_class("ok\n", mimetype="text/plain")


@bp.route("/readyz")
@public
def readyz():
    """200 when the database is reachable and migrated, the broker (if any) answers and the
    store takes a write; 503 with what is wrong otherwise."""
    readiness = current_app.extensions.get("xiangyin.readiness")
    if readiness is None:
        readiness = current_app.extensions["xiangyin.readiness"] = Readiness(db(), settings())
    checks = readiness.check()
    ready = all(answer == "ok" for answer in checks.values())
    response = jsonify(ready=ready, checks=checks)
    response.status_code = 200 if ready else 503
    response.cache_control.no_store = True
    return response


@bp.route("/metrics")
@public
def metrics():
    """Prometheus text, only for a scraper that sends the token (METRICS_TOKEN); without a
    token configured there is no such page."""
    token = settings().metrics_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token:
        abort(404)
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(401)
    response = current_app.response_class(metrics_text(db()), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    response.cache_control.no_store = True
    return response

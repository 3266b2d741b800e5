"""Where core's refusals become HTTP answers: one table from kind to status, one handler that
rolls the request's work back and answers with the message, as JSON for the phone scripts
that ask for it, as the form that was sent (filled in again) when the view declared one with
`refill`, and as an error page otherwise."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import abort, g, jsonify, make_response, render_template, request

from core.errors import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound, TooMany, Unavailable

STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Gone, 410), (NotFound, 404), (Forbidden, 403), (Conflict, 409), (TooMany, 429), (Unavailable, 503), (Invalid, 422),
)
TITLES = {410: "已停用", 404: "找不到页面", 403: "没有权限", 409: "操作冲突", 429: "太频繁了", 503: "请稍后再试", 422: "请检查后再试"}


def status_for(error: DomainError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 422)


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def json_object(limit: int) -> dict:
    """A listen page's small JSON post, as an object with every string cleaned; a body too
    large, not JSON or not an object is answered here with its reason (413/400)."""
    from core.inputs import clean_json

    def refuse(status: int, why: str):
        abort(make_response(jsonify(ok=False, error=why), status))

    if (request.content_length or 0) > limit:
        refuse(413, "上报内容太大")
    try:
        payload = clean_json(json.loads(request.get_data(cache=False, as_text=True) or "{}"))
    except ValueError:
        refuse(400, "上报内容不是有效的 JSON")
    if not isinstance(payload, dict):
        refuse(400, "上报内容不完整")
    return payload


def refill(template: str, build: Callable[[], dict[str, Any]] | None = None, **context: Any) -> None:
    """Name the page a form view shows again when core refuses what was typed (Invalid,
    Conflict): `domain_error` renders it with the message and the typed values as `form`, so
    the view itself is parse → call → render with no try/except. `build` and callable values
    are called only then, after the rollback, so they show the records as they now are."""
    g.xiangyin_refill = (template, build, context)


def domain_error(error: DomainError):
    from web import session

    session().rollback()
    status = status_for(error)
    # A phone's outbox waits this long before sending again.
    retry = {"Retry-After": "10"} if status in (429, 503) else {}
    if wants_json():
        return jsonify(ok=False, error=str(error)), status, retry
    refilled = g.pop("xiangyin_refill", None)
    if refilled is not None and isinstance(error, (Invalid, Conflict)):
        template, build, context = refilled
        values = dict(build()) if build else {}
        values.update((name, value() if callable(value) else value) for name, value in context.items())
        values.setdefault("form", request.form)
        return render_template(template, error=str(error), **values), status
    template = "listen/error.html" if request.blueprint == "listen" else "error.html"
    return render_template(template, title=TITLES[status], message=str(error)), status, retry

"""Sending a kept file (core/storage.py) to a browser: one place for every view that does.

Three ways, whichever the installation chose: a short-lived link straight to the object
store (AUDIO_DELIVERY=presigned), nginx sending the file from its own internal location
(AUDIO_ACCEL_REDIRECT, audio of the local store), or this process — from the local file, or
streamed from the bucket one requested range at a time. Ranges, ETags and caching behave the
same every way, so the listen page and its service worker cannot tell them apart.
"""
from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flask import abort, current_app, redirect, request, send_file

from core.storage import AUDIO, Readable, open_store
from web import settings

CHUNK = 64 * 1024


def send_stored(key: str, *, mimetype: str, max_age: int = 0, etag: str | None = None, public: bool = False,
                download_name: str | None = None):
    """The response for one kept object; 404 when it is not there."""
    store = open_store(settings())
    disposition = _disposition(download_name)
    url = store.listener_url(key, content_type=mimetype, cache_seconds=max_age, disposition=disposition)
    if url is not None:
        response = redirect(url, 302)
        response.cache_control.no_store = True  # the link expires; ask again each time
        return response
    path = store.local_path(key)
    if path is not None:
        if not path.is_file():
            abort(404)
        accel = settings().audio_accel_redirect
        if accel and key.startswith(f"{AUDIO}/"):
            # nginx sends the file (ranges included) from its internal location over the audio folder.
            response = current_app.response_class(mimetype=mimetype)
            response.headers["X-Accel-Redirect"] = accel + quote(key.removeprefix(f"{AUDIO}/"))
        else:
            response = send_file(path, mimetype=mimetype, conditional=True, etag=etag or True,
                                 as_attachment=download_name is not None, download_name=download_name)
    else:
        response = _streamed(store, key, mimetype, etag, disposition)
    response.cache_control.max_age = max_age
    response.cache_control.public = public or None
    response.cache_control.private = None if public else True
    return response


def _disposition(download_name: str | None) -> str | None:
    if download_name is None:
        return None
    return f"attachment; filename*=UTF-8''{quote(download_name)}"


def _streamed(store, key: str, mimetype: str, etag: str | None, disposition: str | None):
    """From the bucket, only the bytes asked for: a phone seeking to minute 20 costs the
    store one ranged GET, not the file up to there."""
    size = store.size(key)
    if size is None:
        abort(404)
    response = current_app.response_class(mimetype=mimetype, direct_passthrough=True)
    response.headers["Accept-Ranges"] = "bytes"
    if disposition:
        response.headers["Content-Disposition"] = disposition
    if etag:
        response.set_etag(etag)
        if request.if_none_match.contains(etag):
            response.status_code = 304
            return response
    start, stop = 0, size
    wanted = request.range
    if wanted is not None and (not request.if_range.etag or request.if_range.etag == etag):
        bounds = wanted.range_for_length(size) if len(wanted.ranges) == 1 else None
        if bounds is None:
            response.status_code = 416
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        start, stop = bounds
        response.status_code = 206
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.content_length = stop - start
    if request.method != "HEAD" and stop > start:
        response.response = _chunks(store.open(key, start, stop - start))
    return response


def _chunks(source: Readable) -> Iterator[bytes]:
    try:
        while data := source.read(CHUNK):
            yield data
    finally:
        source.close()


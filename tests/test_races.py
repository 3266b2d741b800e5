"""Confirmations sent twice at once (a double tap, two tabs) import once; imports racing into
one series both land with their own numbers. Threads against a real HTTP server."""
from __future__ import annotations

import re
import threading
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from sqlalchemy import func, select

from core.lessons import create_series
from core.models import Lesson, Member
from tests.helpers.browser import serve
from tests.helpers.web import PASSWORD, add_user


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)

    def open(self, path: str, data: dict | None = None, files: list | None = None) -> tuple[int, str, str]:
        headers, body = {}, None
        if files is not None:
            boundary = "xyboundary"
            parts = []
            for key, value in (data or {}).items():
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
            for key, name, content in files:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{name}"\r\n'
                             f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(self.base + path, body, headers)
        try:
            with self.opener.open(request) as response:
                return response.status, response.headers.get("Location", ""), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Location", ""), exc.read().decode()

    def token(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.open("/login")[2] if not hasattr(self, "_in")
                         else self.open("/")[2]).group(1)

    def login(self, username: str) -> None:
        status, _, _ = self.open("/login", {"csrf_token": self.token(), "username": username, "password": PASSWORD})
        assert status == 302
        self._in = True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def at_once(calls) -> list:
    results: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_four_confirms_of_one_member_import_insert_the_roll_once(app):
    add_user(app, "boss", "admin")
    roll = "姓名,电话\n王秀英,13800000001\n李国华,13800000002\n".encode("gbk")
    with serve(app) as base:
        browser = Browser(base)
        browser.login("boss")
        status, location, _ = browser.open("/members/import", {"csrf_token": browser.token()},
                                           files=[("file", "名册.csv", roll)])
        assert status == 303, status
        form = {"csrf_token": browser.token(), "name": "0", "phone": "1", "confirm": "1"}
        results = at_once([lambda: browser.open(urllib.parse.urlsplit(location).path, form) for _ in range(4)])
    assert all(status < 500 for status, _, _ in results), results
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Member)) == 2


def test_racing_lesson_confirms_and_uploads_never_answer_500(app):
    add_user(app, "boss", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        series_id = create_series(session, "专题", actor=None).id
        session.commit()
    bad = b"\xff\xfe\x00"  # refused: keeps the batch for review
    with serve(app) as base:
        browser = Browser(base)
        browser.login("boss")
        tokens = []
        for n in range(3):
            status, _, page = browser.open(f"/series/{series_id}/upload", {"csrf_token": browser.token()},
                                           files=[("files", f"第{n}课.txt", f"第{n}课 学习\n内容{n}。".encode()),
                                                  ("files", "坏.txt", bad)])
            tokens.append(re.search(rf"/series/{series_id}/upload/([^\"]+)\"", page).group(1))
        form = {"csrf_token": browser.token(), "include-0": "1"}
        calls = [lambda t=t: browser.open(f"/series/{series_id}/upload/{t}", form) for t in tokens for _ in range(2)]
        calls += [lambda n=n: browser.open(f"/series/{series_id}/upload", {"csrf_token": form["csrf_token"]},
                                           files=[("files", f"新{n}.txt", f"新课{n}\n第{n}份不同的内容。".encode())]) for n in range(3)]
        results = at_once(calls)
    assert all(status < 500 for status, _, _ in results), [r[0] for r in results]
    with app.extensions["xiangyin.db"].session() as session:
        numbers = sorted(session.scalars(select(Lesson.number).where(Lesson.series_id == series_id)))
        titles = sorted(session.scalars(select(Lesson.title)))
    assert numbers == list(range(1, 7)), (titles, [(r[0], r[1]) for r in results], "three confirmed once each and three "
                                          "uploads, numbered without gaps")

"""Sessions that end when they should, and a lock-out that parallel guessing cannot slip
through and an attacker cannot turn against the admin."""
from __future__ import annotations

import re
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.cookiejar import CookieJar

from sqlalchemy import select

from core.models import LoginFailure
from core.users import MAX_FAILED_LOGINS
from tests.helpers.browser import serve
from tests.helpers.web import PASSWORD, Client, add_user, page_text


def copy_cookies(source: Client, target: Client) -> None:
    for cookie in source.http._cookies.values():
        target.http.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_logout_ends_a_copied_session_cookie(app, admin):
    thief = Client(app.test_client())
    copy_cookies(admin, thief)
    assert thief.get("/users/").status_code == 200
    admin.post("/logout")
    response = thief.get("/users/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions_but_keeps_this_one(app):
    add_user(app, "vol9", "volunteer")
    phone, laptop = Client(app.test_client()), Client(app.test_client())
    assert phone.login("vol9").status_code == 302 and laptop.login("vol9").status_code == 302
    response = phone.post("/password", {"current_password": PASSWORD, "new_password": "another-horse-77",
                                        "confirm_password": "another-horse-77"})
    assert response.status_code == 302
    assert phone.get("/").status_code == 200
    assert laptop.get("/").status_code == 302


def test_deactivation_and_reset_end_sessions_and_remember_tokens(app, admin):
    user = add_user(app, "vol8", "volunteer")
    volunteer = Client(app.test_client())
    response = volunteer.post("/login", {"username": "vol8", "password": PASSWORD, "remember": "1"})
    remember = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token=")]
    assert remember, response.headers
    expires = re.search(r"Expires=([^;]+)", remember[0]).group(1)
    lifetime = datetime.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC) - datetime.now(UTC)
    assert 0 < lifetime.days <= 30
    # Without the session cookie, the remember token alone logs in ...
    volunteer.http.delete_cookie("session")
    assert volunteer.get("/").status_code == 200
    admin.post(f"/users/{user.id}/reset")
    volunteer.http.delete_cookie("session")
    assert volunteer.get("/").status_code == 302  # ... until the password is reset


def _post_login(base: str, username: str, password: str, jar: CookieJar) -> int:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password}).encode()
    try:
        return opener.open(base + "/login", data).status
    except urllib.error.HTTPError as exc:
        return exc.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_parallel_guesses_get_no_more_than_the_limit(app, monkeypatch):
    add_user(app, "target", "admin")
    checked = []
    import core.users

    original = core.users.check_password_hash
    monkeypatch.setattr(core.users, "check_password_hash", lambda *a: checked.append(1) or original(*a))
    results: list[int] = []
    with serve(app) as base:
        def guess(n: int) -> None:
            results.append(_post_login(base, "target", f"guess-{n}", CookieJar()))

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(401) == 40
        assert len(checked) <= MAX_FAILED_LOGINS
        assert _post_login(base, "target", PASSWORD, CookieJar()) == 401  # locked from here


def test_lock_out_is_per_address_and_an_admin_can_lift_it(app, make_app):
    add_user(app, "boss", "admin")
    attacker = Client(app.test_client())
    for n in range(MAX_FAILED_LOGINS + 1):
        attacker.post("/login", {"username": "boss", "password": f"wrong-{n}"},
                      environ_base={"REMOTE_ADDR": "203.0.113.9"})
    locked = attacker.post("/login", {"username": "boss", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert "密码错误次数太多" in page_text(locked)
    office = Client(app.test_client())
    response = office.post("/login", {"username": "boss", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.168.1.20"})
    assert response.status_code == 302
    users_page = office.get("/users/")
    assert "已从 1 处锁定" in page_text(users_page)
    user_id = re.search(r'/users/(\d+)/unlock', users_page.get_data(as_text=True)).group(1)
    office.post(f"/users/{user_id}/unlock")
    again = attacker.post("/login", {"username": "boss", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert again.status_code == 302
    assert "解除账号 boss 的登录锁定" in page_text(office.get("/audit"))


def test_login_time_does_not_tell_whether_a_user_exists(app):
    add_user(app, "real", "volunteer")
    client = Client(app.test_client())

    def timed(username: str) -> float:
        start = time.perf_counter()
        client.post("/login", {"username": username, "password": "not-the-password"},
                    environ_base={"REMOTE_ADDR": f"10.0.{len(username)}.{int(start * 1000) % 250}"})
        return time.perf_counter() - start

    known = min(timed("real") for _ in range(3))
    unknown = min(timed("nobody-here") for _ in range(3))
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_the_client_address_comes_from_x_forwarded_for_only_with_proxy_count(make_app):
    """Behind nginx every request comes from 127.0.0.1: the address a lock-out (or a listen
    limit) keys on is X-Forwarded-For's, but only when PROXY_COUNT says a proxy sets it —
    otherwise anyone could name any address."""
    forged = {"X-Forwarded-For": "203.0.113.9"}
    for proxies in (0, 1):
        app = make_app(PROXY_COUNT=proxies)
        Client(app.test_client()).post("/login", {"username": "nobody", "password": "wrong"}, headers=forged)
    with app.extensions["xiangyin.db"].session() as session:
        addresses = set(session.scalars(select(LoginFailure.address).where(LoginFailure.username == "nobody")))
    assert addresses == {"127.0.0.1", "203.0.113.9"}

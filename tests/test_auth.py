"""Logins, roles and CSRF: who may reach what."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Series, User
from core.users import MAX_FAILED_LOGINS
from tests.helpers.web import Client, add_user, page_text

ADMIN_GETS = ["/users/", "/members/new", "/members/export.xlsx", "/audit", "/stats", "/series/1/lessons/new", "/lessons/1/edit",
              "/voices/offline-mandarin/sample.mp3"]
ADMIN_POSTS = [
    "/series/new",
    "/series/1/edit",
    "/series/1/move",
    "/series/1/delete",
    "/series/1/upload",
    "/lessons/1/move",
    "/lessons/1/delete",
    "/users/new",
    "/users/1/reset",
    "/lessons/estimate",
    "/lessons/1/studio",
    "/series/1/oral",
    "/renditions/1/remove",
]


@pytest.fixture
def library(app):
    from core.lessons import add_lesson, create_series

    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "测试专题", actor=None)
        add_lesson(session, series, "第一课", "正文。")
        session.commit()


@pytest.mark.parametrize("url", ["/", "/series/1", "/lessons/1", "/users/", "/password", "/messages", "/studio",
                                 "/studio/1", "/messages/1/audio"])
def test_anonymous_users_are_sent_to_login(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_page_and_static_files_are_public(anonymous):
    assert "登录乡音" in page_text(anonymous.get("/login"))
    assert anonymous.get("/static/xiangyin.css").status_code == 200


@pytest.mark.parametrize("url", ADMIN_GETS)
def test_volunteer_gets_403_on_admin_pages(library, volunteer, url):
    response = volunteer.get(url)
    assert response.status_code == 403
    assert "没有权限" in page_text(response)


@pytest.mark.parametrize("url", ADMIN_POSTS)
def test_volunteer_cannot_change_anything(library, app, volunteer, url):
    response = volunteer.post(url, {"title": "改名", "direction": "up", "confirm_title": "测试专题", "username": "x1"})
    assert response.status_code == 403
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(Series.title)) == "测试专题"
        assert len(session.get(Series, 1).lessons) == 1


def test_volunteer_reads_the_library(library, volunteer):
    text = page_text(volunteer.get("/series/1"))
    assert "第1课 第一课" in text
    assert "上传讲稿" not in text and "专题设置" not in text
    assert "编辑" not in page_text(volunteer.get("/lessons/1"))


def test_forms_without_csrf_token_are_refused(library, app, admin):
    response = admin.post("/series/new", {"title": "无令牌"}, csrf=False)
    assert response.status_code == 400
    assert "表单已失效" in page_text(response)
    response = admin.post("/series/new", {"title": "错令牌", "csrf_token": "forged"})
    assert response.status_code == 400
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalars(select(Series.title)).all() == ["测试专题"]


def test_login_without_csrf_is_refused(app, anonymous):
    add_user(app, "someone", "admin")
    response = anonymous.post("/login", {"username": "someone", "password": "correct-horse-42"}, csrf=False)
    assert response.status_code == 400


def test_wrong_password_then_lockout(app, anonymous):
    add_user(app, "vol2", "volunteer")
    for _ in range(MAX_FAILED_LOGINS):
        response = anonymous.post("/login", {"username": "vol2", "password": "wrong-password"})
        assert response.status_code == 401
        assert "用户名或密码不正确" in page_text(response)
    response = anonymous.post("/login", {"username": "vol2", "password": "correct-horse-42"})
    assert response.status_code == 401
    assert "密码错误次数太多，请 15 分钟后再试" in page_text(response)


def test_one_time_password_must_be_changed_first(app, admin):
    page = admin.post("/users/new", {"username": "newvol", "display_name": "新志愿者", "role": "volunteer"})
    assert page.status_code == 200
    import re

    secret = re.search(r'id="one-time-password">([^<]+)<', page.get_data(as_text=True)).group(1)
    newcomer = Client(app.test_client())
    assert newcomer.login("newvol", secret).status_code == 302
    assert newcomer.get("/").headers["Location"] == "/password"
    form = newcomer.get("/password").get_data(as_text=True)
    assert 'name="current_password"' not in form, "the one-time password just typed is not asked again"
    response = newcomer.post("/password", {"new_password": "12345678", "confirm_password": "12345678"})
    assert "密码太简单" in page_text(response)
    same = newcomer.post("/password", {"new_password": secret, "confirm_password": secret})
    assert "新密码不能和旧密码相同" in page_text(same)
    response = newcomer.post("/password", {"new_password": "my-own-pass-9", "confirm_password": "my-own-pass-9"})
    assert response.status_code == 302
    assert 'name="current_password"' in newcomer.get("/password").get_data(as_text=True), \
        "a later change asks for the current password again"
    assert newcomer.get("/").status_code == 200
    with app.extensions["xiangyin.db"].session() as session:
        user = session.scalar(select(User).where(User.username == "newvol"))
        assert user.role == "volunteer" and not user.must_change_password
        assert "my-own-pass-9" not in user.password_hash


def test_logout_needs_post_and_ends_the_session(admin):
    assert admin.get("/logout").status_code == 405
    assert admin.post("/logout").status_code == 302
    assert admin.get("/").status_code == 302


def test_deactivated_user_is_logged_out(app, admin, volunteer):
    assert admin.post("/users/2/active").status_code == 303
    assert volunteer.get("/").status_code == 302
    assert volunteer.login("vol1").status_code == 401


def test_next_parameter_cannot_leave_the_site(app, anonymous):
    add_user(app, "admin9", "admin")
    response = anonymous.http.post(
        "/login?next=//evil.example/x", data={"username": "admin9", "password": "correct-horse-42", "csrf_token": anonymous.token()}
    )
    assert response.headers["Location"] == "/"


def test_account_changes_from_the_command_line_say_who_made_them(app):
    import getpass

    from core.models import AuditEntry
    from scripts.cli import cli

    run = lambda *args: app.test_cli_runner().invoke(cli, list(args))  # noqa: E731
    assert run("users", "create", "xiaowang", "--role", "volunteer").exit_code == 0
    add_user(app, "boss", "admin")
    assert run("--as", "boss", "users", "reset-password", "xiaowang").exit_code == 0
    refused = run("--as", "nobody", "users", "reset-password", "xiaowang")
    assert refused.exit_code == 1 and "没有用户名为「nobody」的账号" in refused.output
    with app.extensions["xiangyin.db"].session() as session:
        entries = [(e.user_name, e.summary) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "user").order_by(AuditEntry.id))]
    assert (f"命令行（{getpass.getuser()}）", "新建账号 xiaowang（志愿者）") in entries
    assert ("Boss", "重置账号 xiaowang 的密码并解除锁定") in entries
    assert sum(summary.startswith("重置账号 xiaowang") for _, summary in entries) == 1, "the refused --as changed nothing"

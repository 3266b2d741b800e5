"""Accounts: creation, password checks with lock-out, one-time passwords."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import utcnow
from core.models import ROLES, User

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 8
# No 0/O, 1/l/I: one-time passwords are read off a screen and typed on a phone.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")


class AccountError(ValueError):
    """A refused account change; str() is the Chinese message."""


def one_time_password(length: int = 12) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if password.isdigit() or len(set(password)) < 4:
        raise AccountError("密码太简单，请混合使用字母和数字")


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip()))


def create_user(
    session: Session,
    username: str,
    role: str,
    *,
    display_name: str = "",
    password: str | None = None,
    phone: str | None = None,
) -> tuple[User, str]:
    """Create an account; returns the user and the password to hand over. Without a given
    password a one-time one is generated and must be changed at first login."""
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise AccountError("用户名只能用 2–64 个英文字母、数字、点、横线或下划线")
    if role not in ROLES:
        raise AccountError(f"角色只能是 {' 或 '.join(ROLES)}")
    if get_user(session, username):
        raise AccountError(f"用户名「{username}」已被使用")
    if password is not None:
        check_password_strength(password)
    secret = password or one_time_password()
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:64],
        role=role,
        password_hash=generate_password_hash(secret),
        must_change_password=password is None,
        phone=(phone or None),
    )
    session.add(user)
    session.flush()
    return user, secret


def reset_password(user: User) -> str:
    secret = one_time_password()
    user.password_hash = generate_password_hash(secret)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    return secret


def change_password(user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise AccountError("当前密码不正确")
    if new == current:
        raise AccountError("新密码不能和旧密码相同")
    check_password_strength(new)
    user.password_hash = generate_password_hash(new)
    user.must_change_password = False


def authenticate(session: Session, username: str, password: str) -> User:
    """Check a login; repeated failures lock the account for a while against guessing."""
    user = get_user(session, username or "")
    now = utcnow()
    if user is None or not user.active:
        raise AccountError("用户名或密码不正确")
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AccountError(f"密码错误次数太多，请 {minutes} 分钟后再试")
    if not check_password_hash(user.password_hash, password or ""):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        raise AccountError("用户名或密码不正确")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def ensure_first_admin(session: Session) -> tuple[str, str] | None:
    """Create the first admin when there is none; returns (username, one-time password)."""
    if session.scalar(select(User).where(User.role == "admin").limit(1)):
        return None
    username = "admin"
    if get_user(session, username):
        username = "admin-" + secrets.token_hex(2)
    _, secret = create_user(session, username, "admin", display_name="管理员")
    return username, secret

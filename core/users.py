"""Accounts: creation, password checks with lock-out, one-time passwords, ending sessions."""
from __future__ import annotations

import math
import re
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.audit import Actor, audit
from core.db import flush_unique, rows_changed, utcnow
from core.errors import Invalid
from core.models import ROLES, LoginFailure, User

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 8
# No 0/O, 1/l/I: one-time passwords are read off a screen and typed on a phone.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MAX_PASSWORD_LENGTH = 256
# Checked when the user name is unknown, so a wrong name costs as long as a wrong password
# and the answer time does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash("xiangyin-no-such-user")


class AccountError(Invalid):
    """A refused account change; str() is the Chinese message."""


def one_time_password(length: int = 12) -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def check_password_strength(password: str) -> None:
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"密码最长 {MAX_PASSWORD_LENGTH} 个字符")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if password.isdigit() or len(set(password)) < 4:
        raise AccountError("密码太简单，请混合使用字母和数字")


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip()[:64]))


def create_user(
    session: Session,
    username: str,
    role: str,
    *,
    display_name: str = "",
    password: str | None = None,
    phone: str | None = None,
    actor: Actor,
) -> tuple[User, str]:
    """Create an account (audited); returns the user and the password to hand over. Without
    a given password a one-time one is generated and must be changed at first login."""
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
    flush_unique(session, "这个用户名刚被使用了，请换一个")
    audit(session, actor, "create", "user", user.id, f"新建账号 {user.username}（{user.role_label}）")
    return user, secret


def end_sessions(user: User) -> None:
    """Every session and remember-me cookie of this account stops working (they carry the
    version, see User.get_id)."""
    user.session_version = (user.session_version or 0) + 1


def reset_password(session: Session, user: User, *, actor: Actor) -> str:
    """A new one-time password; unlocks the account everywhere and ends its sessions."""
    secret = one_time_password()
    user.password_hash = generate_password_hash(secret)
    user.must_change_password = True
    end_sessions(user)
    _clear_lockouts(session, user.username)
    audit(session, actor, "reset", "user", user.id, f"重置账号 {user.username} 的密码并解除锁定")
    return secret


def change_password(session: Session, user: User, current: str | None, new: str) -> None:
    """Other sessions of the account end; the caller logs the current one in again.
    `current` is None when the caller has just seen the one-time password typed at login:
    asking for it again a second later only makes people retype a code they already lost."""
    if current is not None and not check_password_hash(user.password_hash, current[:MAX_PASSWORD_LENGTH]):
        raise AccountError("当前密码不正确")
    if check_password_hash(user.password_hash, new[:MAX_PASSWORD_LENGTH]):
        raise AccountError("新密码不能和旧密码相同")
    check_password_strength(new)
    user.password_hash = generate_password_hash(new)
    user.must_change_password = False
    end_sessions(user)
    audit(session, user, "password", "user", user.id, f"{user.username} 修改了自己的密码")


def set_active(session: Session, user: User, active: bool, *, actor: Actor) -> None:
    user.active = active
    if not active:
        end_sessions(user)
    audit(session, actor, "update", "user", user.id, f"{'启用' if active else '停用'}账号 {user.username}")


def unlock(session: Session, user: User, *, actor: Actor) -> int:
    """Clear the lock-outs of an account from every address; returns how many there were."""
    count = _clear_lockouts(session, user.username)
    audit(session, actor, "unlock", "user", user.id, f"解除账号 {user.username} 的登录锁定（{count} 处）")
    return count


def _clear_lockouts(session: Session, username: str) -> int:
    return rows_changed(session.execute(delete(LoginFailure).where(LoginFailure.username == username)))


def locked_addresses(session: Session, username: str, now=None) -> int:
    now = now or utcnow()
    return len(session.scalars(select(LoginFailure.id).where(
        LoginFailure.username == username, LoginFailure.locked_until > now)).all())


def _reserve_attempt(session: Session, username: str, address: str, now) -> LoginFailure:
    """Count this attempt for (account, address) before the password is checked, and commit
    at once: parallel guesses each take a try from the same counter, so no more than
    MAX_FAILED_LOGINS of them are ever checked before the pair is locked."""
    values = {"username": username, "address": address}
    where = (LoginFailure.username == username, LoginFailure.address == address)
    bump = update(LoginFailure).where(*where).values(failures=LoginFailure.failures + 1, updated_at=now)
    if rows_changed(session.execute(bump)) == 0:
        # A new pair: forget pairs that have been quiet for a day, so guessing with many
        # names or addresses cannot grow the table without end.
        session.execute(delete(LoginFailure).where(LoginFailure.updated_at < now - timedelta(days=1)))
        try:
            with session.begin_nested():
                session.add(LoginFailure(failures=1, updated_at=now, **values))
        except IntegrityError:
            session.execute(bump)
    session.commit()
    return session.scalars(select(LoginFailure).where(*where).execution_options(populate_existing=True)).one()


def authenticate(session: Session, username: str, password: str, address: str = "-", now=None) -> User:
    """Check a login. Attempts are counted per account and address, so guessing from one
    address locks only that address out, never the admin in the office; an unknown name
    costs the same time as a wrong password. Commits the attempt count itself (see
    _reserve_attempt); the caller commits the outcome."""
    now = now or utcnow()
    username = (username or "").strip()[:64]
    address = (address or "-")[:64]
    password = (password or "")[:MAX_PASSWORD_LENGTH]
    record = _reserve_attempt(session, username, address, now)
    if record.locked_until is None or record.locked_until <= now:
        if record.failures > MAX_FAILED_LOGINS:
            record.failures, record.locked_until = 0, now + timedelta(minutes=LOCK_MINUTES)
            session.commit()
    if record.locked_until is not None and record.locked_until > now:
        minutes = max(1, math.ceil((record.locked_until - now).total_seconds() / 60))
        raise AccountError(f"密码错误次数太多，请 {minutes} 分钟后再试")
    user = get_user(session, username) if username else None
    matches = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not user.active or not matches:
        raise AccountError("用户名或密码不正确")
    session.delete(record)
    user.last_login_at = now
    return user


def ensure_first_admin(session: Session) -> tuple[str, str] | None:
    """Create the first admin when there is none; returns (username, one-time password)."""
    if session.scalar(select(User).where(User.role == "admin").limit(1)):
        return None
    username = "admin"
    if get_user(session, username):
        username = "admin-" + secrets.token_hex(2)
    _, secret = create_user(session, username, "admin", display_name="管理员", actor="xiangyin init")
    return username, secret

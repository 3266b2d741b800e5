"""Two web processes of one installation: with REDIS_URL, a code revoked in one stops the other
process's cached listen page at once; without it, each process's cache is its own and runs
out within its lifetime (the documented single-machine behaviour)."""
from __future__ import annotations

from core.lessons import add_lesson, create_series
from core.models import Lesson, Rendition, ShareToken
from core.sharing import share_for
from tests.helpers.redis_server import redis_server
from tests.helpers.web import Client, add_user


def two_processes(make_app, **config):
    first = make_app(LISTEN_PAGE_CACHE_SECONDS=300, **config)
    second = make_app(LISTEN_PAGE_CACHE_SECONDS=300, **config)
    return first, second


def published_code(app) -> tuple[int, str]:
    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "专题", actor=None), "学习党章", "认真学习党章。")
        session.add(Rendition(lesson=lesson, version=lesson.versions[0], kind="tts", voice_id="offline-mandarin",
                              status="done", duration=60.0, file_path="aa/a.mp3", sha256="a" * 64))
        share = share_for(session, lesson=session.get(Lesson, lesson.id))
        session.commit()
        return share.id, share.token


def revoke_elsewhere(app, share_id: int) -> None:
    add_user(app, "boss", "admin")
    admin = Client(app.test_client())
    admin.login("boss")
    assert admin.post(f"/qr/{share_id}/revoke").status_code == 303


def test_a_revocation_in_one_process_reaches_the_other_at_once_through_redis(make_app, tmp_path):
    with redis_server(tmp_path) as url:
        phones, office = two_processes(make_app, REDIS_URL=url)
        share_id, token = published_code(phones)
        phone = phones.test_client()
        assert phone.get(f"/l/{token}").status_code == 200  # now cached in the phones' process
        revoke_elsewhere(office, share_id)
        assert phone.get(f"/l/{token}").status_code == 410


def test_without_redis_each_process_keeps_its_own_cache_for_its_lifetime(make_app):
    phones, office = two_processes(make_app)
    share_id, token = published_code(phones)
    phone = phones.test_client()
    assert phone.get(f"/l/{token}").status_code == 200
    revoke_elsewhere(office, share_id)
    assert phone.get(f"/l/{token}").status_code == 200, "the other process's copy lives out its lifetime"
    with phones.extensions["xiangyin.db"].session() as session:
        assert session.get(ShareToken, share_id).revoked_at is not None
    phones.extensions["xiangyin.listen_pages"].clear()  # what a revocation in this process does
    assert phone.get(f"/l/{token}").status_code == 410


def test_a_code_revoked_on_the_command_line_stops_every_web_process_at_once(make_app, tmp_path):
    from scripts.cli import cli

    with redis_server(tmp_path) as url:
        phones, office = two_processes(make_app, REDIS_URL=url)
        _, token = published_code(phones)
        phone = phones.test_client()
        assert phone.get(f"/l/{token}").status_code == 200
        revoked = office.test_cli_runner().invoke(cli, ["qr", "revoke", token])
        assert revoked.exit_code == 0, revoked.output
        assert phone.get(f"/l/{token}").status_code == 410

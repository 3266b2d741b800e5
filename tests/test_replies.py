"""回音: a listener's message is answered, and the answer reaches them — on the phone that left
it (any code, once, heard through), on the member's personal card, and as the first track of
a USB member's next pack — while the inbox says 已回复 and when it was heard."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app import settings_of
from core.lessons import add_lesson, create_series
from core.models import ListenerMessage, Member, MessageReply, PackItem, Pairing
from core.sharing import share_for
from tests.helpers.audio_judges import ffprobe, loudness
from tests.helpers.jobs import run_jobs, speech_file
from tests.helpers.messages import leave, phone
from tests.helpers.web import Client, add_user, page_text

pytestmark = pytest.mark.slow  # speaks and masters replies
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
def codes(app):
    near, _ = add_user(app, "near", "volunteer"), add_user(app, "far", "volunteer")
    add_user(app, "boss", "admin")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "学习党章", "党章是党的根本大法。")
        other = add_lesson(session, series, "按时交纳党费", "党费要按月交纳。")
        member = Member(name="王秀英", group_name="幸福里1号楼")
        session.add(member)
        session.flush()
        session.add(Pairing(member_id=member.id, user_id=near.id))
        codes = {"personal": share_for(session, lesson=lesson, member=member).token,
                 "public": share_for(session, lesson=lesson).token, "other_public": share_for(session, lesson=other).token,
                 "series": share_for(session, series=series).token, "lesson": lesson.id, "member": member.id}
        session.commit()
        return codes


def logged_in(app, username: str) -> Client:
    client = Client(app.test_client())
    assert client.login(username).status_code == 302
    return client


def messages(app) -> list[ListenerMessage]:
    with app.extensions["xiangyin.db"].session() as session:
        return list(session.scalars(select(ListenerMessage).order_by(ListenerMessage.id)))


def reply_row(app, message_id: int) -> MessageReply:
    with app.extensions["xiangyin.db"].session() as session:
        return session.scalars(select(MessageReply).where(MessageReply.message_id == message_id)).one()


def waiting(client: Client, code: str) -> list[dict]:
    response = client.http.post("/listen/replies", data={"code": code})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.json["replies"]


def test_a_typed_reply_reaches_the_phone_that_left_the_message_on_any_code_once(app, codes, freeze, tmp_path):
    clock = freeze(T0)
    listener, stranger = phone(app, codes["public"]), phone(app, codes["public"])
    sent = leave(listener, codes["public"], lesson=codes["lesson"], text="请问党费怎么交？", name="王大爷",
                 phone="138 0013 8000")
    assert sent.json == {"ok": True, "created": True}
    assert leave(listener, codes["public"], client_id="msg-00000002", text="再问一句", phone="不是电话").status_code == 422
    [message] = messages(app)
    assert (message.caller_name, message.caller_phone) == ("王大爷", "13800138000")
    boss, far = logged_in(app, "boss"), logged_in(app, "far")
    inbox = page_text(boss.get("/messages"))
    assert "公共二维码（王大爷，13800138000）" in inbox and "请问党费怎么交？" in inbox
    assert far.post(f"/messages/{message.id}/reply", {"text": "按月交"}).status_code == 404, "not theirs to answer"
    refused = boss.post(f"/messages/{message.id}/reply", {"text": "  ", "message": str(message.id)})
    assert refused.status_code == 422 and "请写上回复的话" in page_text(refused)
    answered = boss.post(f"/messages/{message.id}/reply", {"text": "王大爷，党费按月交，志愿者下周上门时给您带说明。"})
    assert answered.status_code == 303
    assert waiting(listener, codes["other_public"])[0]["audio"] is None, "the words show before the voice is ready"
    run_jobs(app)
    reply = reply_row(app, message.id)
    track = tmp_path / "reply.mp3"
    assert waiting(stranger, codes["public"]) == [], "another phone on the same code hears nothing"
    [shown] = waiting(listener, codes["other_public"])  # another lesson's code, same phone
    assert shown["text"] == "王大爷，党费按月交，志愿者下周上门时给您带说明。" and shown["said"] == "请问党费怎么交？"
    audio = listener.get(shown["audio"])
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    track.write_bytes(audio.get_data())
    seconds = float(ffprobe(track)["format"]["duration"])
    assert seconds == pytest.approx(reply.duration, abs=0.3) and seconds > 3, "spoken, with its lead-in"
    assert abs(loudness(track) + 16) <= 1.5
    assert stranger.get(shown["audio"]).status_code == 404

    def heard(client, listened):
        return client.http.post(f"/listen/replies/{shown['id']}/heard", data=f'{{"listened": {listened}}}',
                                content_type="text/plain")

    assert heard(listener, reply.duration).json["heard"] is False, "no one hears it in no time"
    clock.advance(seconds=reply.duration)
    assert heard(listener, reply.duration * 0.5).json["heard"] is False, "half of it is not heard"
    assert heard(stranger, reply.duration).status_code == 404
    assert heard(listener, reply.duration).json["heard"] is True
    assert waiting(listener, codes["public"]) == [], "heard once: not shown again"
    boss_view = page_text(boss.get("/messages?handled=1"))
    assert "已回复" in boss_view and "已听" in boss_view and "（手机）" in boss_view


def test_a_recorded_reply_reaches_the_member_s_card_and_the_next_usb_pack_starts_with_it(app, codes, tmp_path):
    from core.models import Lesson, PackTarget, User
    from core.packs import build_pack
    from core.rendering import request_render

    member_phone = phone(app, codes["personal"])
    assert leave(member_phone, codes["personal"], lesson=codes["lesson"], text="能不能讲慢一点").status_code == 200
    [message] = messages(app)
    near = logged_in(app, "near")
    voice = speech_file(tmp_path, "reply.m4a", codec=["-c:a", "aac", "-b:a", "48k"]).read_bytes()
    sent = near.post(f"/messages/{message.id}/reply", {"audio": (io.BytesIO(voice), "回复.m4a")},
                     content_type="multipart/form-data")
    assert sent.status_code == 303, page_text(sent)
    reply = reply_row(app, message.id)
    assert reply.audio_path and reply.duration > 1 and reply.text == ""
    assert near.post(f"/messages/{message.id}/reply", {"text": "再回一次"}).status_code == 409
    family = phone(app, codes["personal"])  # another phone opening the member's card
    assert [r["id"] for r in waiting(family, codes["personal"])] == [reply.id]
    assert waiting(family, codes["public"]) == [], "on a general code, only the phone that left it"

    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, codes["lesson"])
        request_render(session, lesson, settings_of(app), voice_id="offline-mandarin")
    run_jobs(app)
    from audio.pack import CATALOG_TXT, DirectoryTarget, FatImageTarget
    from tests.helpers.fat import fatsort_order

    image = tmp_path / "drive.img"
    target = FatImageTarget.create(image, 64 * 1024 * 1024)
    with app.extensions["xiangyin.db"].session() as session:
        member = session.get(Member, codes["member"])
        pack = build_pack(session, settings_of(app), [session.get(Lesson, codes["lesson"])], "offline-mandarin",
                          target, member=member, user=session.scalars(select(User).where(User.username == "boss")).one(),
                          greeting=True, target=PackTarget.IMAGE)
        session.commit()
        pack_id = pack.id
        top = pack.items[0].path.split("/")[0]
    catalogue = b"".join(target.read(f"{top}/{CATALOG_TXT}")).decode("utf-8-sig")
    target.publish()
    names = [name for name in fatsort_order(image, top) if name.endswith(".mp3")]
    assert names == ["000 回音.mp3", "001 问候.mp3", "002 第1课 学习党章.mp3"], "the player's order, as FAT holds it"
    with app.extensions["xiangyin.db"].session() as session:
        echo = session.scalars(select(PackItem).where(PackItem.pack_id == pack_id, PackItem.position == 1)).one()
        assert echo.title == "回音" and echo.duration == pytest.approx(reply.duration + 1.7, abs=0.5)
    assert "000  回音" in catalogue and "另有回音和开场问候" in catalogue
    assert reply_row(app, message.id).pack_id == pack_id
    assert "已放进 U 盘学习包" in page_text(near.get("/messages?handled=1"))
    (tmp_path / "second").mkdir()
    with app.extensions["xiangyin.db"].session() as session:
        again = build_pack(session, settings_of(app), [session.get(Lesson, codes["lesson"])], "offline-mandarin",
                           DirectoryTarget(tmp_path / "second"), member=session.get(Member, codes["member"]),
                           user=session.scalars(select(User).where(User.username == "boss")).one(), target=PackTarget.DRIVE)
        assert all("回音" not in item.path for item in again.items), "carried once"


@pytest.mark.browser
def test_in_chromium_a_message_left_offline_is_answered_and_heard_once(app, codes):
    from tests.helpers.browser import phone_page, serve, wait_for, wait_until

    with serve(app) as url, phone_page() as page:
        page.goto(f"{url}/l/{codes['public']}")
        assert page.locator("#msg-name").is_visible() and page.locator("#msg-phone").is_visible()
        page.context.set_offline(True)
        page.fill("#msg-text", "没有信号的时候问：下次学习什么时候？")
        page.tap("#msg-form button")
        wait_until(page, "document.getElementById('msg-status').textContent.includes('有信号时会自动发出')")
        page.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        [message] = wait_for(lambda: messages(app))
        boss = logged_in(app, "boss")
        assert boss.post(f"/messages/{message.id}/reply", {"text": "下周三上午九点，在社区党群服务中心。"}).status_code == 303
        run_jobs(app)
        page.goto(f"{url}/l/{codes['other_public']}")
        wait_until(page, "!document.getElementById('echo').hidden")
        assert "下周三上午九点" in page.inner_text("#echo") and "没有信号的时候问" in page.inner_text("#echo")
        page.tap(".echo-play")
        wait_until(page, "document.querySelector('#echo .heard').textContent.includes('听过了')", timeout=40)
        assert page.inner_text(".echo-play") == "↻ 再听一遍"
        page.reload()
        page.wait_for_timeout(1500)
        assert page.locator("#echo").is_hidden(), "heard once: not shown again"
    assert reply_row(app, message.id).heard_via == "手机"

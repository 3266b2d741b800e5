"""我要留言: listeners' messages from the listen page reach the right people, are checked and
mastered like recordings, are kept once however often a phone resends them, and bad input
gets a plain reason and stores nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from audio.engines import SpeechRequest
from audio.engines.espeak import EspeakEngine
from audio.voices import get_voice
from core.lessons import add_lesson, create_series
from core.models import ListenerMessage, Member, Pairing
from core.sharing import share_for
from tests.helpers.audio_judges import ffprobe, loudness
from tests.helpers.messages import leave, phone
from tests.helpers.tools import tone_wav
from tests.helpers.web import Client, add_user, page_text

pytestmark = pytest.mark.slow


def speech(text: str = "请问下一次学习是什么时候？我腿脚不方便，能不能送到家里来。") -> bytes:
    return EspeakEngine().synthesize(SpeechRequest(text, get_voice("offline-mandarin"))).data


@pytest.fixture
def codes(app):
    """A personal card of a member paired with volunteer 'near', and a public lesson code."""
    near, far = add_user(app, "near", "volunteer"), add_user(app, "far", "volunteer")
    with app.extensions["xiangyin.db"].session() as session:
        series = create_series(session, "冬季学习包", actor=None)
        lesson = add_lesson(session, series, "学习党章", "党章是党的根本大法。")
        member = Member(name="王秀英", group_name="幸福里1号楼")
        session.add(member)
        session.flush()
        session.add(Pairing(member_id=member.id, user_id=near.id))
        personal = share_for(session, lesson=lesson, member=member).token
        public = share_for(session, lesson=lesson).token
        session.commit()
        return {"personal": personal, "public": public, "lesson": lesson.id, "member": member.id,
                "near": near.id, "far": far.id}


def stored(app) -> list[ListenerMessage]:
    with app.extensions["xiangyin.db"].session() as session:
        return list(session.scalars(select(ListenerMessage).order_by(ListenerMessage.id)))


def logged_in(app, username: str) -> Client:
    client = Client(app.test_client())
    assert client.login(username).status_code == 302
    return client


def test_a_spoken_message_reaches_the_paired_volunteer_only(app, codes, admin):
    member_phone = phone(app, codes["personal"])
    answer = leave(member_phone, codes["personal"], lesson=codes["lesson"], audio=speech())
    assert answer.status_code == 200 and answer.json == {"ok": True, "created": True}
    again = leave(member_phone, codes["personal"], lesson=codes["lesson"], audio=speech())
    assert again.json == {"ok": True, "created": False}, "a resend is the same message"
    [message] = stored(app)
    assert (message.member_id, message.lesson_id) == (codes["member"], codes["lesson"])
    path = app.extensions["xiangyin.settings"].paths.voice_notes / message.audio_path
    assert ffprobe(path)["streams"][0]["codec_name"] == "mp3"
    assert loudness(path) == pytest.approx(-16, abs=1.0), "mastered like a lesson recording"
    assert 3 < message.duration <= 60

    near, far = logged_in(app, "near"), logged_in(app, "far")
    inbox = near.get("/messages").get_data(as_text=True)
    assert "王秀英" in inbox and "听的是第1课 学习党章" in inbox and f"/messages/{message.id}/audio" in inbox
    assert near.get(f"/messages/{message.id}/audio").data == path.read_bytes()
    assert "王秀英" not in far.get("/messages").get_data(as_text=True)
    assert far.get(f"/messages/{message.id}/audio").status_code == 404
    assert far.post(f"/messages/{message.id}/handle", {"note": "看过了"}).status_code == 404
    assert "留言 1" in page_text(near.get("/members/"))
    near.post(f"/messages/{message.id}/handle", {"note": "已电话回复，下周走访时当面讲"})
    assert "没有待处理的留言" in page_text(near.get("/messages"))
    assert "已电话回复，下周走访时当面讲" in page_text(near.get("/messages?handled=1"))
    timeline = page_text(near.get(f"/members/{codes['member']}"))
    assert "留言 扫个人卡留言：语音" in timeline and "已处理：已电话回复" in timeline
    dashboard = page_text(admin.get("/stats?days=7"))
    assert "1 条留言，其中 0 条还没有处理" in dashboard


def test_a_public_code_message_goes_to_admins(app, codes, admin):
    answer = leave(phone(app, codes["public"]), codes["public"], text="课文里的“四个意识”是哪四个？")
    assert answer.json["ok"]
    assert "四个意识" in page_text(admin.get("/messages")) and "公共二维码" in page_text(admin.get("/messages"))
    assert "四个意识" not in page_text(logged_in(app, "near").get("/messages"))


@pytest.mark.parametrize("audio, name, reason", [
    (tone_wav(2, amplitude=0.0), "留言.wav", "录音几乎没有声音"),
    (tone_wav(70), "留言.wav", "录音太长，最多 60 秒"),
    (tone_wav(0.3), "留言.wav", "录音太短"),
    (b"\x1aE\xdf\xa3" + bytes(range(256)) * 40, "留言.webm", "无法识别这个录音文件"),
    (b"MZ" + bytes(100), "留言.exe", "无法识别这个录音文件"),
])
def test_bad_recordings_get_a_plain_reason_and_store_nothing(app, codes, audio, name, reason):
    answer = leave(phone(app, codes["public"]), codes["public"], audio=audio, name=name)
    assert answer.status_code == 422 and reason in answer.json["error"]
    assert stored(app) == []
    assert list((app.extensions["xiangyin.settings"].paths.voice_notes / "messages").glob("**/*")) == []


def test_other_bad_messages(app, codes):
    member_phone = phone(app, codes["public"])
    oversize = leave(member_phone, codes["public"], audio=bytes(6 * 1024 * 1024), name="留言.webm")
    assert oversize.status_code == 413 and "录音太大" in oversize.json["error"]
    assert "请先录一段话或写几个字" in leave(member_phone, codes["public"], text="   ").json["error"]
    assert "最多 500 个字" in leave(member_phone, codes["public"], text="长" * 501).json["error"]
    assert leave(member_phone, codes["public"], client_id="x", text="好").status_code == 422
    stranger = Client(app.test_client())
    assert leave(stranger, codes["public"], text="没有打开过页面").status_code == 403
    assert leave(member_phone, "nosuchcode", text="好").status_code == 404
    assert leave(member_phone, codes["public"], lesson=999, text="好").status_code == 404
    assert stored(app) == []


def test_one_phone_cannot_flood_the_inbox(app, codes):
    member_phone = phone(app, codes["public"])
    for n in range(10):
        assert leave(member_phone, codes["public"], client_id=f"msg-{n:08d}", text=f"第{n}条").json["ok"]
    flooded = leave(member_phone, codes["public"], client_id="msg-99999999", text="再来一条")
    assert flooded.status_code == 429 and "今天的留言已经很多了" in flooded.json["error"]
    with app.extensions["xiangyin.db"].session() as session:
        assert session.scalar(select(func.count()).select_from(ListenerMessage)) == 10


WECHAT = ("Mozilla/5.0 (Linux; Android 10; V2002A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
          "Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 MicroMessenger/8.0.35.2360")


@pytest.mark.browser
def test_in_chromium_a_message_is_recorded_sent_and_one_queued_offline_is_sent_later_once(app, codes):
    from tests.helpers.browser import phone_page, serve, wait_for, wait_until

    with serve(app) as url, phone_page(user_agent=WECHAT) as page:
        page.goto(f"{url}/l/{codes['personal']}")
        record = page.locator("#msg-record")
        assert record.bounding_box()["height"] >= 80, "one big button"
        record.tap()
        wait_until(page, "document.getElementById('msg-record').getAttribute('aria-pressed') === 'true'")
        page.wait_for_timeout(2500)  # the fake microphone beeps
        record.tap()
        wait_until(page, "!document.getElementById('msg-actions').hidden")
        assert "录好了" in page.inner_text("#msg-status")
        page.tap("#msg-send")
        wait_until(page, "document.getElementById('msg-status').textContent.includes('留言已发送')")
        [spoken] = wait_for(lambda: stored(app))
        assert spoken.audio_path and spoken.duration >= 1 and spoken.member_id == codes["member"]

        page.context.set_offline(True)
        page.fill("#msg-text", "没有信号的时候写的")
        page.tap("#msg-form button")
        wait_until(page, "document.getElementById('msg-status').textContent.includes('有信号时会自动发出')")
        assert len(stored(app)) == 1
        page.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        wait_for(lambda: len(stored(app)) == 2)
        page.reload()
        page.wait_for_timeout(1500)
        texts = [m.text for m in stored(app)]
        assert texts == ["", "没有信号的时候写的"], "sent once, not again on the next visit"

    with serve(app) as url, phone_page(user_agent=WECHAT) as page:
        page.add_init_script("delete window.MediaRecorder")
        page.goto(f"{url}/l/{codes['public']}")
        assert page.locator("#msg-unsupported").is_visible() and page.locator("#msg-recorder").is_hidden()
        page.fill("#msg-text", "不能录音也能留言")
        page.tap("#msg-form button")
        wait_for(lambda: len(stored(app)) == 3)


def test_a_series_card_page_takes_messages_too(app, codes, admin):
    from core.models import Series

    with app.extensions["xiangyin.db"].session() as session:
        token = share_for(session, series=session.scalars(select(Series)).one()).token
        session.commit()
    member_phone = Client(app.test_client())
    page = member_phone.get(f"/s/{token}").get_data(as_text=True)
    assert 'id="message"' in page and f'data-url="/s/{token}/message" data-lesson=""' in page
    answer = member_phone.http.post(f"/s/{token}/message", data={"client_id": "msg-series-1", "lesson": "",
                                                                 "text": "这个专题还有第二季吗？"},
                                    headers={"Accept": "application/json"})
    assert answer.json["ok"]
    [message] = stored(app)
    assert message.lesson_id is None and "第二季" in page_text(admin.get("/messages"))

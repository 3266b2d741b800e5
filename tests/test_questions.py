"""听后一问: one short question with two or three short answers, kept with the lesson and spoken
at the end of its audio; a lesson without one keeps the audio it had."""
from __future__ import annotations

import json

import pytest

from app import settings_of
from core.lessons import add_lesson, create_series
from core.models import Job, Lesson, Rendition
from core.questions import QuestionError, question_of, remove_question, set_question
from core.rendering import request_render
from tests.helpers import audio_judges as judge
from tests.helpers.jobs import rendition_file, run_jobs

TEXT = "各位党员同志：今天学习按时交纳党费。党费要按月交纳，特殊情况可以预交或补交。"


@pytest.fixture
def lesson(db):
    lesson = add_lesson(db, create_series(db, "冬季学习包", actor=None), "按时交纳党费", TEXT)
    db.commit()
    return lesson


@pytest.mark.parametrize("text, answers, right, why", [
    ("", ["按月", "按年"], 0, "请写上问题"),
    ("党费" * 30, ["按月", "按年"], 0, "问题最多 40 个字"),
    ("党费多久交一次？", ["按月"], 0, "请写两到三个答案"),
    ("党费多久交一次？", ["按月", "按年", "按季", "随时"], 0, "请写两到三个答案"),
    ("党费多久交一次？", ["按月", "按" * 20], 0, "每个答案最多 16 个字"),
    ("党费多久交一次？", ["按月", " 按月 "], 0, "答案不能重复"),
    ("党费多久交一次？", ["按月", "按年"], 2, "请选出正确的答案"),
])
def test_a_question_that_cannot_be_kept_says_why(db, lesson, text, answers, right, why):
    with pytest.raises(QuestionError, match=why):
        set_question(db, lesson, text, answers, right, actor=None)


def test_a_question_is_kept_changed_and_removed(db, lesson):
    asked = set_question(db, lesson, "  党费 多久交一次？ ", ["按月交纳", "一年一次", ""], 0, actor=None)
    assert (asked.text, asked.answers, asked.right) == ("党费 多久交一次？", ("按月交纳", "一年一次"), 0)
    assert asked.parts == ("听后一问：党费 多久交一次？", "A、按月交纳。", "B、一年一次。", "请在手机上选一个答案，或者告诉来看望您的志愿者。")
    assert asked.spoken == " ".join(asked.parts)
    set_question(db, lesson, "党费多久交一次？", ["一年一次", "按月交纳", "不用交"], 1, actor=None)
    assert question_of(db, lesson).answers == ("一年一次", "按月交纳", "不用交")
    remove_question(db, lesson, actor=None)
    assert question_of(db, lesson) is None


@pytest.mark.slow
def test_the_question_is_spoken_at_the_end_and_other_lessons_keep_their_audio(app, db, lesson):
    settings = settings_of(app)
    plain, _ = request_render(db, lesson, settings, voice_id="offline-mandarin")
    run_jobs(app)
    db.expire_all()
    before = float(judge.ffprobe(rendition_file(app, plain.id))["format"]["duration"])
    again, job = request_render(db, db.get(Lesson, lesson.id), settings, voice_id="offline-mandarin")
    assert again.id == plain.id and job is None, "no question: the same audio as before"

    asked = set_question(db, lesson, "党费多久交一次？", ["按月交纳", "一年一次"], 0, actor=None)
    db.commit()
    with_question, job = request_render(db, db.get(Lesson, lesson.id), settings, voice_id="offline-mandarin")
    assert with_question.id != plain.id and job is not None
    assert json.loads(db.get(Job, job.id).payload)["question"] == list(asked.parts)
    run_jobs(app)
    db.expire_all()
    track = rendition_file(app, with_question.id)
    after = float(judge.ffprobe(track)["format"]["duration"])
    part_seconds = [_spoken_seconds(settings, part) for part in asked.parts]
    pauses = 1.4 + 0.65 * (len(asked.parts) - 1)
    assert after - before == pytest.approx(sum(part_seconds) + pauses, abs=1.5), "the question and its answers, after a pause"
    rendition = db.get(Rendition, with_question.id)
    assert rendition.status == "done" and rendition.question == asked.spoken
    closing = lesson.series.closing_text.strip()
    lesson_ends = before - 1.2 - ((1.0 + _spoken_seconds(settings, closing)) if closing else 0)
    _assert_parts_where_the_spans_say(track, json.loads(rendition.question_spans), part_seconds, lesson_ends)


def _assert_parts_where_the_spans_say(track, spans, part_seconds, lesson_seconds) -> None:
    """Without a transcript: each span lasts as long as its part spoken alone, holds speech,
    and is framed by silence (the pauses between parts), in order, after the lesson."""
    from pydub import AudioSegment

    audio = AudioSegment.from_file(track)
    assert len(spans) == len(part_seconds)
    for (start, end), seconds in zip(spans, part_seconds, strict=True):
        assert end - start == pytest.approx(seconds, abs=0.15)
        assert audio[int(start * 1000):int(end * 1000)].dBFS > -35, "speech inside the span"
        assert audio[int(start * 1000) - 400:int(start * 1000) - 100].dBFS < -50, "a pause before it"
    assert all(spans[n][1] < spans[n + 1][0] for n in range(len(spans) - 1))
    assert spans[0][0] == pytest.approx(lesson_seconds + 1.4, abs=0.3), "after the whole lesson and a pause"


@pytest.mark.slow
def test_a_recording_is_mastered_again_to_say_a_new_question_and_plays_until_then(app, db, lesson, tmp_path):
    from core.models import User
    from core.rendering import add_recording, regenerate, renditions_for
    from tests.helpers.jobs import speech_file

    settings = settings_of(app)
    admin = User(username="boss", display_name="管理员", role="admin", password_hash="x")
    db.add(admin)
    db.commit()
    recording, _ = add_recording(db, lesson, "voice.wav", speech_file(tmp_path, "voice.wav").read_bytes(), settings,
                                 dialect="重庆话", speaker_name="王秀英", with_intro=False, user=admin)
    run_jobs(app)
    db.expire_all()
    plain = db.get(Rendition, recording.id)
    before = float(judge.ffprobe(rendition_file(app, plain.id))["format"]["duration"])
    assert plain.question is None and plain.question_spans is None

    asked = set_question(db, lesson, "党费多久交一次？", ["按月交纳", "一年一次"], 0, actor=admin)
    db.commit()
    assert regenerate(db, lesson, settings, admin) == (1, [])
    db.commit()
    assert regenerate(db, lesson, settings, admin) == (0, []), "asked once, while it is being mastered"
    db.commit()
    again = renditions_for(db, lesson)[0]
    assert again.id != plain.id and again.source_path == plain.source_path and again.approved_at is not None
    assert db.get(Rendition, plain.id).status == "done", "the old recording plays until the new one is done"
    run_jobs(app)
    db.expire_all()
    again = db.get(Rendition, again.id)
    track = rendition_file(app, again.id)
    after = float(judge.ffprobe(track)["format"]["duration"])
    part_seconds = [_spoken_seconds(settings, part) for part in asked.parts]
    assert again.status == "done" and again.question == asked.spoken and again.label == plain.label
    assert after - before == pytest.approx(sum(part_seconds) + 1.4 + 0.65 * (len(part_seconds) - 1), abs=1.5)
    _assert_parts_where_the_spans_say(track, json.loads(again.question_spans), part_seconds, before - 1.2)
    assert regenerate(db, lesson, settings, admin) == (0, []), "it says the question as it is: nothing to redo"


def _spoken_seconds(settings, text: str) -> float:
    from core.voices import speaker_for

    result = speaker_for(settings).render(text, "offline-mandarin", rate=-10)
    return sum(float(judge.ffprobe(segment.path)["format"]["duration"]) for segment in result.segments)


def test_an_admin_sets_the_question_on_the_lesson_page_and_a_volunteer_sees_no_right_answer(app, admin, volunteer, lesson):
    from tests.helpers.web import page_text

    refused = admin.post(f"/lessons/{lesson.id}/question", {"question": "党费多久交一次？", "answer_0": "按月交纳",
                                                            "answer_1": "", "answer_2": "", "right": "0"})
    assert refused.status_code == 422 and "请写两到三个答案" in page_text(refused)
    assert 'value="党费多久交一次？"' in refused.get_data(as_text=True), "what was typed is kept"
    saved = admin.post(f"/lessons/{lesson.id}/question", {"question": "党费多久交一次？", "answer_0": "按月交纳",
                                                          "answer_1": "一年一次", "answer_2": "", "right": "0"})
    assert saved.status_code == 303
    shown = page_text(admin.get(saved.headers["Location"]))
    assert "已保存听后一问" in shown and "按月交纳 正确" in shown
    seen = page_text(volunteer.get(f"/lessons/{lesson.id}"))
    assert "党费多久交一次？" in seen and "正确" not in seen
    assert volunteer.post(f"/lessons/{lesson.id}/question", {"remove": "1"}).status_code == 403
    assert "已去掉听后一问" in page_text(admin.get(admin.post(f"/lessons/{lesson.id}/question", {"remove": "1"})
                                                   .headers["Location"]))


@pytest.fixture
def asked(make_app):
    """A lesson with its question, rendered, behind a lesson code and a member's personal card."""
    from core.models import Member
    from core.sharing import share_for
    from tests.helpers.listening import rendered_series

    app = make_app(HEARTBEAT_SESSION_BURST=100)
    ids = rendered_series(app)
    with app.extensions["xiangyin.db"].session() as session:
        lesson = session.get(Lesson, ids["lessons"][0])
        set_question(session, lesson, "党费多久交一次？", ["一年一次", "按月交纳"], 1, actor=None)
        session.commit()
        request_render(session, lesson, settings_of(app), voice_id="offline-mandarin")
        ids["lesson_token"] = share_for(session, lesson=lesson).token
        ids["personal_token"] = share_for(session, lesson=lesson, member=session.get(Member, ids["member"])).token
        ids["other_lesson"] = ids["lessons"][1]
        session.commit()
    run_jobs(app)
    return app, ids


def _answers(app) -> list[tuple]:
    from sqlalchemy import select

    from core.models import QuestionAnswer

    with app.extensions["xiangyin.db"].session() as session:
        return [(a.lesson_id, a.member_id, a.choice, a.correct, a.sent_later)
                for a in session.scalars(select(QuestionAnswer).order_by(QuestionAnswer.id))]


@pytest.mark.slow
def test_a_phone_answers_once_and_hears_the_right_answer_only_after(asked):
    app, ids = asked
    phone = app.test_client()
    page = phone.get(f"/l/{ids['personal_token']}").get_data(as_text=True)
    section = page.split('id="question"')[1].split("</section>")[0]
    assert "党费多久交一次？" in section and "按月交纳" in section
    assert "正确" not in section and "right" not in section, "the page never says which answer is right"
    url = f"/l/{ids['personal_token']}/answer"
    first = phone.post(url, data=json.dumps({"lesson": ids["lessons"][0], "choice": 0}), content_type="text/plain")
    assert first.status_code == 200 and first.get_json() == {"ok": True, "correct": False, "right": 1, "first": True}
    again = phone.post(url, data=json.dumps({"lesson": ids["lessons"][0], "choice": 1}), content_type="text/plain")
    assert again.get_json() == {"ok": True, "correct": False, "right": 1, "first": False}, "the first answer is kept"
    assert _answers(app) == [(ids["lessons"][0], ids["member"], 0, False, False)]
    assert phone.post(url, data=json.dumps({"lesson": ids["other_lesson"], "choice": 0})).status_code == 404
    assert phone.post(url, data=json.dumps({"lesson": ids["lessons"][0], "choice": 5})).status_code == 422
    assert phone.post(url, data="[1]").status_code == 400
    assert app.test_client().post(url, data=json.dumps({"lesson": ids["lessons"][0], "choice": 1})).status_code == 403


@pytest.mark.slow
@pytest.mark.browser
def test_answers_from_the_listen_page_online_and_offline_then_online_count_once(asked):
    from tests.helpers.browser import phone_page, wait_until
    from tests.helpers.one_bar import through_gate

    app, ids = asked
    end = "var a = document.getElementById('audio'); a.currentTime = Math.max(0, a.duration - 0.3);"
    with through_gate(app) as gate, phone_page() as page:
        page.goto(f"{gate.url}/l/{ids['personal_token']}")
        assert page.is_hidden("#question"), "asked after the lesson, not before"
        page.tap("#play")
        wait_until(page, "document.getElementById('audio').currentTime > 0.2", timeout=30)
        page.evaluate(end)
        wait_until(page, "!document.getElementById('question').hidden", timeout=30)
        gate.down()
        page.click(".answer[data-choice='1']")
        wait_until(page, "document.getElementById('question-result').textContent.indexOf('已记下') >= 0")
        assert _answers(app) == []
        gate.restore()
        page.reload()
        wait_until(page, "document.getElementById('question-result').textContent.indexOf('答对了') >= 0", timeout=30)
        page.click(".answer[data-choice='0']", force=True)
        page.reload()
        wait_until(page, "document.getElementById('question-result').textContent.indexOf('答对了') >= 0", timeout=30)
        _an_answer_is_played_aloud(page, part=2)
    assert _answers(app) == [(ids["lessons"][0], ids["member"], 1, True, True)], "sent later, counted once"


def _an_answer_is_played_aloud(page, part: int) -> None:
    """The 🔊 beside an answer plays that answer from the lesson's own track, and stops
    after it, before the next part begins; the lesson's player is left where it was."""
    from tests.helpers.browser import wait_until

    page.evaluate("""window.__said = [];
        ['play', 'pause'].forEach(function (name) {
          var original = HTMLMediaElement.prototype[name];
          HTMLMediaElement.prototype[name] = function () {
            if (this.id !== 'audio') window.__said.push([name, this.currentTime, this.currentSrc || this.src]);
            return original.apply(this, arguments);
          };
        });""")
    spans = json.loads(page.get_attribute("#question", "data-spans"))
    button = f".say[data-part='{part}']"
    page.click(button)
    wait_until(page, f"document.querySelector(\"{button}\").getAttribute('aria-pressed') === 'true'")
    wait_until(page, f"document.querySelector(\"{button}\").getAttribute('aria-pressed') === 'false'", timeout=20)
    said = page.evaluate("window.__said")
    (played, start, src), (paused, stop, _) = said[0], said[-1]
    lesson_src = page.evaluate("document.getElementById('audio').currentSrc")
    assert (played, paused) == ("play", "pause") and src == lesson_src, "the track the phone already has"
    assert start == pytest.approx(spans[part][0] - 0.1, abs=0.05)
    assert spans[part][1] <= stop < spans[part][1] + 0.65, "the whole answer, and not what follows it"
    assert page.evaluate("document.getElementById('audio').paused")


def test_the_dashboard_shows_how_many_answered_right(app, admin, db, lesson):
    import io

    from openpyxl import load_workbook

    from core.db import utcnow
    from core.models import QuestionAnswer
    from tests.helpers.web import page_text

    set_question(db, lesson, "党费多久交一次？", ["按月交纳", "一年一次"], 0, actor=None)
    db.add_all(QuestionAnswer(lesson_id=lesson.id, question="党费多久交一次？", choice=choice, correct=choice == 0,
                              created_at=utcnow()) for choice in (0, 0, 1, None))
    db.commit()
    text = page_text(admin.get("/stats?days=7"))
    assert "听后一问 课程 回答 答对 答对的比例 第1课 按时交纳党费 冬季学习包 4 2 50%" in text
    sheet = load_workbook(io.BytesIO(admin.get("/stats/plays.xlsx?days=7").data))["听后一问"]
    assert list(sheet.iter_rows(min_row=2, values_only=True)) == [("冬季学习包", "第1课 按时交纳党费", 4, 2)]


def _handed_a_pack(db, volunteer, lesson):
    """A member paired with the volunteer, handed a pack with the lesson, which asks a question."""
    import uuid
    from datetime import UTC, datetime

    from core.models import Member, Pack, PackItem, Pairing

    member = Member(name="王秀英", group_name="幸福里")
    db.add(member)
    db.flush()
    db.add(Pairing(member_id=member.id, user_id=volunteer.id))
    pack = Pack(uuid=str(uuid.uuid4()), title="冬季学习包", voice_id="offline-mandarin", member_id=member.id,
                target="zip", lesson_count=1, total_duration=60.0, total_size=1, manifest="{}",
                delivered_at=datetime(2026, 11, 10, 2, 0, tzinfo=UTC))
    db.add(pack)
    db.flush()
    db.add(PackItem(pack_id=pack.id, position=1, path="001.mp3", title=lesson.label, lesson_id=lesson.id,
                    sha256="a" * 64, size=1, duration=60.0))
    set_question(db, lesson, "党费多久交一次？", ["按月交纳", "一年一次"], 0, actor=None)
    db.commit()
    return member


def test_the_visit_form_asks_the_questions_of_packs_handed_over_and_records_the_answers(app, db, lesson, freeze):
    import re
    from datetime import UTC, datetime

    from core.models import QuestionAnswer, User
    from core.reports.ledger import Period, build_ledger
    from tests.helpers.web import Client, add_user, page_text

    freeze(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    volunteer = add_user(app, "li", "volunteer")
    member = _handed_a_pack(db, volunteer, lesson)
    phone = Client(app.test_client())
    phone.login("li")
    form = phone.get(f"/visits/new/{member.id}")
    html = form.get_data(as_text=True)
    assert "听后一问（问问党员，记下回答）" in page_text(form) and "党费多久交一次？" in html
    key = re.search(r'name="client_key" value="([^"]+)"', html).group(1)
    sent = phone.post(f"/visits/new/{member.id}", {"client_key": key, "visited_at": "2026-11-20T09:00",
                                                    "delivered": "nothing", f"q_{lesson.id}": "0"})
    assert sent.status_code == 303, page_text(sent)
    again = phone.post(f"/visits/new/{member.id}", {"client_key": key, "visited_at": "2026-11-20T09:00",
                                                     "delivered": "nothing", f"q_{lesson.id}": "0"})
    assert again.status_code == 303
    rows = db.query(QuestionAnswer).all()
    assert [(r.lesson_id, r.member_id, r.choice, r.correct, r.session_id is None, r.visit_id is not None)
            for r in rows] == [(lesson.id, member.id, 0, True, True, True)], "a form sent twice answers once"
    assert "党费多久交一次？" not in phone.get(f"/visits/new/{member.id}").get_data(as_text=True), "asked once"
    boss = db.get(User, add_user(app, "boss", "admin").id)
    assert build_ledger(db, boss, member.id, Period(2026, 4)).lines[0].answer == "听懂了"


@pytest.mark.slow
def test_a_spoken_answer_at_the_visit_is_kept_heard_and_judged_by_the_organiser(app, db, lesson, freeze, tmp_path):
    import io
    import re
    from datetime import UTC, datetime

    from core.models import QuestionAnswer
    from tests.helpers.jobs import speech_file
    from tests.helpers.web import Client, add_user, page_text

    freeze(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    volunteer = add_user(app, "li", "volunteer")
    add_user(app, "other", "volunteer")
    add_user(app, "boss", "admin")
    member = _handed_a_pack(db, volunteer, lesson)
    phone, other, boss = (Client(app.test_client()) for _ in range(3))
    for client, name in ((phone, "li"), (other, "other"), (boss, "boss")):
        client.login(name)
    html = phone.get(f"/visits/new/{member.id}").get_data(as_text=True)
    assert "录下党员自己说的回答" in html and f'name="qv_{lesson.id}"' in html
    key = re.search(r'name="client_key" value="([^"]+)"', html).group(1)
    fields = {"client_key": key, "visited_at": "2026-11-20T09:00", "delivered": "nothing", "feedback": "听得清楚",
              f"q_{lesson.id}": "voice"}
    refused = phone.post(f"/visits/new/{member.id}", dict(fields))
    assert refused.status_code == 422 and "没有录音" in page_text(refused)
    assert "听得清楚" in refused.get_data(as_text=True) and db.query(QuestionAnswer).count() == 0
    spoken = speech_file(tmp_path, "answer.m4a", codec=["-c:a", "aac", "-b:a", "48k"]).read_bytes()
    sent = phone.post(f"/visits/new/{member.id}", {**fields, f"qv_{lesson.id}": (io.BytesIO(spoken), "回答.m4a")},
                      content_type="multipart/form-data")
    assert sent.status_code == 303, page_text(sent)
    row = db.query(QuestionAnswer).one()
    assert (row.choice, row.correct, row.voice_path) == (None, None, f"{key}-q{lesson.id}.mp3")
    ledger = f"/members/{member.id}/ledger?quarter=2026Q4"
    assert "听后一问：录了回答，待判断" in page_text(phone.get(ledger))
    heard = phone.get(f"/answers/{row.id}/voice")
    assert heard.status_code == 200 and heard.mimetype == "audio/mpeg"
    (tmp_path / "heard.mp3").write_bytes(heard.get_data())
    assert float(judge.ffprobe(tmp_path / "heard.mp3")["format"]["duration"]) > 1.0
    assert other.get(f"/answers/{row.id}/voice").status_code == 404, "another volunteer's member"
    assert phone.post(f"/answers/{row.id}/judge", {"verdict": "right"}).status_code == 403, "the organiser judges"
    judged = boss.post(f"/answers/{row.id}/judge", {"verdict": "right", "quarter": "2026Q4"})
    assert judged.status_code == 303
    assert "听后一问：听懂了" in page_text(boss.get(judged.headers["Location"]))


@pytest.mark.slow
def test_the_pack_catalogue_prints_the_question(app, db, lesson):
    import io
    import zipfile

    from core.packs import build_pack

    set_question(db, lesson, "党费多久交一次？", ["按月交纳", "一年一次"], 0, actor=None)
    db.commit()
    request_render(db, db.get(Lesson, lesson.id), settings_of(app), voice_id="offline-mandarin")
    run_jobs(app)
    db.expire_all()
    pack = build_pack(db, settings_of(app), [db.get(Lesson, lesson.id)], "offline-mandarin", member=None, user="测试")
    db.commit()
    from core.packs import pack_zip_key
    from core.storage import open_store

    with open_store(settings_of(app)).local_copy(pack_zip_key(pack.uuid)) as path:
        with zipfile.ZipFile(path) as archive:
            catalog = next(name for name in archive.namelist() if name.endswith(".txt"))
            text = io.TextIOWrapper(archive.open(catalog), encoding="utf-8-sig").read()
    assert "听后一问：党费多久交一次？ A、按月交纳 B、一年一次" in text

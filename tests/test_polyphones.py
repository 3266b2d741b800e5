"""多音字: a phrase dictionary settles most readings; what it cannot settle is flagged with its
likely reading, and one tap respells the word so every voice says the chosen reading."""
from __future__ import annotations

import pytest

from audio.polyphones import flags, homophone, respell
from audio.segment import segment_text

SETTLED = [  # a phrase covers the character: no flag
    "这位长者身体很好", "长期坚持学习", "去银行取钱", "行人注意安全", "重新开始", "这很重要", "还是你说得对",
    "为了人民", "因为下雨", "朝阳社区", "曾经来过", "传达文件精神", "供应充足", "参加会议", "调查研究",
    "快乐生活", "处理问题", "种植蔬菜", "数字", "西藏自治区", "记载", "降低血压", "效率很高", "方便群众",
    "背包", "看着我", "跑得快", "我的书",
]


@pytest.mark.parametrize("text", SETTLED)
def test_a_phrase_settles_the_reading(text):
    assert flags(text) == []


def test_what_no_phrase_settles_is_flagged_with_its_readings_and_a_respelling():
    [flag] = flags("通知：我得走了。")
    assert (flag.char, flag.word) == ("得", "我得走了")
    assert set(flag.readings) == {"dé", "de", "děi"}
    assert respell(flag, "dé") == "我" + homophone("dé") + "走了"


def test_a_lexicon_entry_from_a_flag_changes_what_every_voice_is_given():
    text = "他还没来。"
    [flag] = flags(text)
    assert (flag.char, flag.word, flag.likely) == ("还", "他还没来", "hái")
    spoken = respell(flag, "hái")
    assert spoken == "他" + homophone("hái") + "没来" and spoken != flag.word
    assert [s.text for s in segment_text(text, lexicon={flag.word: spoken})] == [spoken + "。"], \
        "what the offline, model-folder and online voices are all given"
    assert flags(spoken + "。") == [], "the entry settles it"


def test_the_lesson_page_counts_the_open_flags_and_offers_one_tap_entries(app, admin):
    from core.lessons import add_lesson, create_series
    from tests.helpers.web import page_text

    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "通知", actor=None), "散会", "我得走了，大家再见。")
        session.commit()
        lesson_id = lesson.id
    page = admin.get(f"/lessons/{lesson_id}")
    assert "多音字：1 处待确认" in page_text(page)
    html = page.get_data(as_text=True)
    assert "/lexicon/?written=%E6%88%91%E5%BE%97%E8%B5%B0%E4%BA%86" in html and "读 dé" in page_text(page)

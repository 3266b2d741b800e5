"""多音字: words settle most readings (our list, then pypinyin's phrase data); what they cannot
settle is flagged with its likely reading, and one tap makes a lexicon entry with the chosen
pinyin, which each voice says its own way: the offline voice and model folders take the
pinyin, the online voice a same-sound spelling the preview shows."""
from __future__ import annotations

import ctypes

import pytest

from audio.engines import EdgeConfig, SpeechConfig
from audio.engines.espeak import _LOCK, EspeakEngine, _library
from audio.polyphones import flags, homophone, own_words, parse_pinyin, readings, respell_word, settled_reading
from audio.segment import segment_text
from audio.speech import build_speaker
from audio.text import Lexicon
from audio.voices import get_voice
from tests.helpers.web import page_text

# A phrase, the character in it, and how a listener must hear it.
RIGHT_READINGS = [
    ("这位长者身体很好", "长", "zhǎng"), ("长期坚持学习", "长", "cháng"), ("村长来了", "长", "zhǎng"),
    ("成长的烦恼", "长", "zhǎng"), ("长江两岸", "长", "cháng"), ("特长班", "长", "cháng"), ("县长讲话", "长", "zhǎng"),
    ("去银行取钱", "行", "háng"), ("行人注意安全", "行", "xíng"), ("各行各业", "行", "háng"), ("举行会议", "行", "xíng"),
    ("执行政策", "行", "xíng"), ("行业协会", "行", "háng"), ("步行上班", "行", "xíng"), ("银行行长讲话", "长", "zhǎng"),
    ("重新开始", "重", "chóng"), ("这很重要", "重", "zhòng"), ("重阳节", "重", "chóng"), ("重点工作", "重", "zhòng"),
    ("体重下降", "重", "zhòng"), ("重复三遍", "重", "chóng"), ("尊重老人", "重", "zhòng"),
    ("还是你说得对", "还", "hái"), ("按时还款", "还", "huán"), ("归还图书", "还", "huán"), ("还有一件事", "还", "hái"),
    ("为了人民", "为", "wèi"), ("因为下雨", "为", "wèi"), ("成为党员", "为", "wéi"), ("行为规范", "为", "wéi"),
    ("为人民服务", "为", "wèi"), ("认为很好", "为", "wéi"),
    ("目的明确", "的", "dì"), ("的确如此", "的", "dí"), ("我的书", "的", "de"), ("打的去医院", "的", "dī"),
    ("得到帮助", "得", "dé"), ("跑得快", "得", "de"), ("取得成绩", "得", "dé"), ("心得体会", "得", "dé"),
    ("看着我", "着", "zhe"), ("着急上火", "着", "zháo"), ("着手准备", "着", "zhuó"), ("穿着朴素", "着", "zhuó"),
    ("睡着了", "着", "zháo"), ("着重指出", "着", "zhuó"),
    ("朝代更替", "朝", "cháo"), ("朝气蓬勃", "朝", "zhāo"), ("朝南的房子", "朝", "cháo"),
    ("曾经来过", "曾", "céng"), ("曾孙满月", "曾", "zēng"), ("不曾忘记", "曾", "céng"),
    ("传达文件精神", "传", "chuán"), ("人物传记", "传", "zhuàn"), ("宣传政策", "传", "chuán"), ("自传", "传", "zhuàn"),
    ("供应充足", "供", "gōng"), ("上供祭祖", "供", "gòng"), ("提供服务", "供", "gōng"), ("口供", "供", "gòng"),
    ("差不多", "差", "chà"), ("出差在外", "差", "chāi"), ("差别很大", "差", "chā"), ("参差不齐", "差", "cī"),
    ("参加会议", "参", "cān"), ("人参", "参", "shēn"), ("参考资料", "参", "cān"),
    ("调查研究", "调", "diào"), ("调整方案", "调", "tiáo"), ("空调", "调", "tiáo"), ("调动工作", "调", "diào"),
    ("快乐生活", "乐", "lè"), ("音乐会", "乐", "yuè"), ("乐器", "乐", "yuè"), ("助人为乐", "乐", "lè"),
    ("处理问题", "处", "chǔ"), ("办事处", "处", "chù"), ("到处都是", "处", "chù"), ("相处融洽", "处", "chǔ"),
    ("处长讲话", "长", "zhǎng"),
    ("种植蔬菜", "种", "zhòng"), ("品种齐全", "种", "zhǒng"), ("种子发芽", "种", "zhǒng"), ("种地", "种", "zhòng"),
    ("数字", "数", "shù"), ("数一数", "数", "shǔ"), ("数据统计", "数", "shù"), ("数不胜数", "数", "shǔ"),
    ("西藏自治区", "藏", "zàng"), ("收藏字画", "藏", "cáng"), ("宝藏", "藏", "zàng"), ("躲藏起来", "藏", "cáng"),
    ("记载", "载", "zǎi"), ("装载货物", "载", "zài"), ("下载文件", "载", "zài"), ("三年五载", "载", "zǎi"),
    ("降低血压", "降", "jiàng"), ("投降", "降", "xiáng"), ("下降", "降", "jiàng"),
    ("效率很高", "率", "lǜ"), ("率先垂范", "率", "shuài"), ("出勤率", "率", "lǜ"),
    ("方便群众", "便", "biàn"), ("便宜的菜", "便", "pián"), ("随便看看", "便", "biàn"),
    ("背包", "背", "bēi"), ("背后", "背", "bèi"), ("背诵课文", "背", "bèi"),
    ("把理论转化为推动发展的行动", "为", "wéi"), ("人数约为三百人", "为", "wéi"), ("以此为例", "为", "wéi"),
    ("被评为先进", "为", "wéi"), ("期限调整为一年", "为", "wéi"), ("曾多次获得表彰", "曾", "céng"),
]


@pytest.mark.parametrize("text, char, reading", RIGHT_READINGS, ids=[row[0] for row in RIGHT_READINGS])
def test_a_word_settles_the_reading_a_listener_needs(text, char, reading):
    assert flags(text) == []
    assert settled_reading(text, text.index(char)) == reading


def test_the_word_list_covers_every_watched_character_with_real_readings():
    from audio.polyphones import WATCHED

    words = own_words()
    assert len(words) >= 200 and WATCHED <= set("".join(words))
    for word, said in words.items():
        assert len(said) == len(word), word
        assert all(reading in readings(char) or reading.isascii() for char, reading in zip(word, said)), word


OPEN = [  # cut into words from the start and from the end they disagree, or no word at all
    ("我得走了", "得"), ("成为老年人", "为"), ("这行字", "行"), ("把书还了", "还"), ("调过来", "调"), ("重了", "重"),
]


def test_words_cut_the_same_way_from_both_ends_settle_it():
    assert settled_reading("进行长期学习", 1) == "xíng" and settled_reading("进行长期学习", 2) == "cháng"
    assert settled_reading("社区为老年人服务", 2) == "wèi" and settled_reading("以人民为中心", 3) == "wéi"
    assert settled_reading("成为党员", 1) == "wéi"


@pytest.mark.parametrize("text, char", OPEN)
def test_what_no_word_settles_is_flagged_with_its_readings(text, char):
    index = text.index(char)
    [flag] = [flag for flag in flags(text) if flag.index == index]
    assert flag.char == char and char in flag.word and len(flag.readings) >= 2
    assert flag.likely in flag.readings or flag.likely.isascii()


def test_pinyin_is_read_with_marks_or_numbers_and_checked():
    assert parse_pinyin("zhǎng zhě") == parse_pinyin("zhang3 zhe3") == ("zhang3", "zhe3")
    assert parse_pinyin("lǜ, de") == parse_pinyin("lv4 de5") == parse_pinyin("lu:4 de") == ("lv4", "de5")
    with pytest.raises(ValueError, match="「zhx3」不是一个读音"):
        parse_pinyin("zhx3")
    assert respell_word("还款", ("huan2", "kuan3")) == homophone("huán") + "款", "款 has one reading and stays"
    assert respell_word("我得走了", parse_pinyin("wǒ děi zǒu le")) == "我得走了", "no common character says děi"


# --------------------------------------------------------------------------- each engine its own way

ENTRY = Lexicon({"还款": homophone("huán") + "款"}, {homophone("huán") + "款": "huan2 kuan3"})


def espeak_phonemes(text: str) -> str:
    """What espeak-ng's Mandarin voice will say, as its own phoneme mnemonics."""
    with _LOCK:
        lib, _, _ = _library()
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_SetVoiceByName(b"cmn")
        buffer = ctypes.create_string_buffer(text.encode())
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        said = []
        while pointer.value:
            said.append((lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, 0) or b"").decode())
        return " ".join(said)


def test_an_entry_with_pinyin_changes_the_offline_voices_phonemes():
    voice = get_voice("offline-mandarin")
    [segment] = segment_text("请按时还款。", lexicon=ENTRY)
    given = EspeakEngine().realise(segment.text, voice, ENTRY.pinyin)
    assert "huan2 kuan3" in given and homophone("huán") not in given
    assert "X'ai35" in espeak_phonemes("请按时还款。"), "without the entry espeak-ng says hái"
    assert "X'ua35n" in espeak_phonemes(given) and "X'ai35" not in espeak_phonemes(given)


def test_the_offline_voice_is_told_what_our_word_list_settles():
    """espeak-ng's own dictionary says 还款 with hái and 处长 with cháng; the word list knows."""
    voice = get_voice("offline-mandarin")
    given = EspeakEngine().realise("请按时还款，处长讲话。", voice, {})
    assert given == "请按时 huan2 款，chu4 zhang3 讲话。"
    assert "X'ua35n" in espeak_phonemes(given) and "ts.'A214N" in espeak_phonemes(given)
    assert "ts.h'A35N" in espeak_phonemes("处长讲话"), "what it says on its own"
    assert EspeakEngine().realise("成为老年人", voice, {}) == "成为老年人", "words that disagree decide nothing"


@pytest.mark.slow  # speaks through a voice
def test_the_online_voice_is_given_the_spelling_the_preview_shows(tmp_path):
    from audio.preview import reading_changes
    from tests.helpers.fake_edge import FakeEdgeServer

    server = FakeEdgeServer().start()
    try:
        speaker = build_speaker(SpeechConfig(cache_dir=tmp_path, edge=EdgeConfig(url=server.url)))
        result = speaker.render("请按时还款。", "mandarin-xiaoxiao", lexicon=ENTRY)
    finally:
        server.stop()
    assert result.engine == "edge" and server.texts == ["请按时" + homophone("huán") + "款。"]
    _, changes = reading_changes("请按时还款。", ENTRY)
    assert changes == [("还款", homophone("huán") + "款", 1)]


@pytest.mark.slow  # speaks through a voice
def test_a_model_folder_is_given_a_character_its_own_lexicon_knows(tmp_path):
    from audio.engines.sherpa import SherpaEngine
    from audio.voices import all_voices, use_voices_dir
    from tests.helpers.tiny_voice import CHARACTERS, build_tiny_vits

    # 桓 says huán like 环, which this model's lexicon lacks.
    build_tiny_vits(tmp_path / "voices" / "tiny-zh", characters=CHARACTERS + "桓书")
    use_voices_dir(tmp_path / "voices")
    try:
        voice = next(voice for voice in all_voices() if voice.engine == "sherpa")
        engine = SherpaEngine(tmp_path / "voices")
        entry = Lexicon({"还书": "环书"}, {"环书": "huan2 shu1"})
        [segment] = segment_text("按时还书", lexicon=entry)
        assert segment.text == "按时环书"
        assert engine.realise(segment.text, voice, entry.pinyin) == "按时桓书"
        speaker = build_speaker(SpeechConfig(cache_dir=tmp_path / "cache", voices_dir=tmp_path / "voices"))
        said = speaker.render("按时还书", voice.id, lexicon=entry)
        plain = speaker.render("按时书", voice.id)
        assert said.duration > plain.duration, "the chosen reading is spoken, not skipped as unknown"
    finally:
        use_voices_dir(None)


# --------------------------------------------------------------------------- the lesson page


def test_one_tap_on_the_lesson_page_makes_an_entry_with_the_chosen_pinyin(app, admin):
    from core.lessons import add_lesson, create_series
    from core.lexicon import lexicon_map

    db = app.extensions["xiangyin.db"]
    with db.session() as session:
        lesson = add_lesson(session, create_series(session, "通知", actor=None), "散会", "我得走了，大家再见。")
        session.commit()
        lesson_id = lesson.id
    page = admin.get(f"/lessons/{lesson_id}")
    assert "多音字：1 处待确认" in page_text(page)
    assert "读 děi" in page_text(page) and f"读 dé（在线声音读作 我{homophone('dé')}走了）" in page_text(page)
    reply = admin.post("/lexicon/new", data={"written": "我得走了", "pinyin": "wǒ děi zǒu le", "note": "多音字：得 读 děi",
                                             "back": f"/lessons/{lesson_id}"})
    assert reply.status_code == 303 and reply.headers["Location"].endswith(f"/lessons/{lesson_id}#reading")
    with db.session() as session:
        lexicon = lexicon_map(session)
    assert lexicon["我得走了"] == "我得走了" and lexicon.pinyin == {"我得走了": "wo3 dei3 zou3 le5"}
    page = page_text(admin.get(f"/lessons/{lesson_id}"))
    assert "多音字：" not in page, "the admin's choice settles it"
    assert 'name="pinyin" value="wǒ děi zǒu le"' in admin.get("/lexicon/").get_data(as_text=True)


def test_a_new_pinyin_on_the_card_makes_a_new_spelling(app):
    from core.lexicon import save_entry

    with app.extensions["xiangyin.db"].session() as session:
        entry = save_entry(session, "还书", "", actor=None, pinyin="huán shū")
        assert entry.spoken == homophone("huán") + "书"
        save_entry(session, "还书", entry.spoken, entry=entry, actor=None, pinyin="hái shū")
        assert (entry.spoken, entry.pinyin) == (homophone("hái") + "书", "hai2 shu1")
        save_entry(session, "还书", "孩子书", entry=entry, actor=None, pinyin="huán shū")
        assert entry.spoken == "孩子书", "a spelling the admin typed is theirs"


@pytest.mark.parametrize("form, message", [
    ({"written": "还款", "pinyin": "huan2"}, "「还款」有 2 个字，拼音却有 1 个音节"),
    ({"written": "G318", "pinyin": "ji1"}, "带拼音的词条，写法只能是汉字"),
    ({"written": "还款", "pinyin": "hxan2 kuan3"}, "「hxan2」不是一个读音"),
])
def test_a_wrong_pinyin_is_refused_with_what_was_typed_kept(admin, form, message):
    reply = admin.post("/lexicon/new", data=form)
    assert reply.status_code == 422 and message in page_text(reply)
    assert form["pinyin"] in reply.get_data(as_text=True)


def test_a_neighbour_with_no_known_reading_leaves_the_flag_without_buttons(app, admin):
    from core.lessons import add_lesson, create_series

    with app.extensions["xiangyin.db"].session() as session:
        lesson = add_lesson(session, create_series(session, "通知", actor=None), "生僻字", "他还兙。")
        session.commit()
        lesson_id = lesson.id
    page = admin.get(f"/lessons/{lesson_id}")
    assert page.status_code == 200 and "多音字：1 处待确认" in page_text(page)
    assert "读 hái" not in page_text(page), "兙 has no pinyin, so no entry with pinyin can be made for this word"

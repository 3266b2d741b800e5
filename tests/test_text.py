"""How lesson text is read aloud: a table of real cases, then segmentation rules."""
from __future__ import annotations

import pytest

from audio.numbers import read_integer, read_number
from audio.segment import Segment, segment_text, strip_quote_marks
from audio.text import apply_lexicon, normalise

CASES = [
    # integers and decimals
    ("143", "一百四十三"),
    ("3.5", "三点五"),
    ("12,500", "一万二千五百"),
    ("10", "十"),
    ("15人", "十五人"),
    ("110人", "一百一十人"),
    ("1005", "一千零五"),
    ("1050", "一千零五十"),
    ("10200", "一万零二百"),
    ("100000", "十万"),
    ("1000000", "一百万"),
    ("100000000", "一亿"),
    ("100010000", "一亿零一万"),
    ("0.5", "零点五"),
    ("12.05元", "十二点零五元"),
    ("1,234.56元", "一千二百三十四点五六元"),
    ("2.5亿元", "二点五亿元"),
    ("1860人次", "一千八百六十人次"),
    ("12万起", "十二万起"),
    ("编号007", "编号零零七"),
    # years and dates
    ("2025年", "二零二五年"),
    ("1921年7月1日", "一九二一年七月一日"),
    ("2025年12月1日", "二零二五年十二月一日"),
    ("2025年12月1号", "二零二五年十二月一号"),
    ("2025-12-01", "二零二五年十二月一日"),
    ("2022-9-22", "二零二二年九月二十二日"),
    ("2025/12/01", "二零二五年十二月一日"),
    ("2025.12.01", "二零二五年十二月一日"),
    ("12月1日", "十二月一日"),
    ("10月1日国庆节", "十月一日国庆节"),
    ("2026年3月", "二零二六年三月"),
    ("2025—2026年", "二零二五到二零二六年"),
    ("2025年-2026年", "二零二五年到二零二六年"),
    ("1990年代", "一九九零年代"),
    ("80年代", "八十年代"),
    ("5年", "五年"),
    ("10日前", "十日前"),
    # clock times
    ("17:39", "十七点三十九分"),
    ("8:00", "八点"),
    ("上午9:05", "上午九点零五分"),
    ("9:30到11:30", "九点三十分到十一点三十分"),
    ("13:00-14:00", "十三点到十四点"),
    ("12:30:15", "十二点三十分十五秒"),
    ("下午4:30", "下午四点三十分"),
    # percentages
    ("80%", "百分之八十"),
    ("98.5%", "百分之九十八点五"),
    ("0.5%", "百分之零点五"),
    ("50%～60%", "百分之五十到百分之六十"),
    ("10%-20%", "百分之十到百分之二十"),
    ("５０％", "百分之五十"),
    ("3‰", "千分之三"),
    # ranges
    ("3-5人", "三到五人"),
    ("3～5天", "三到五天"),
    ("60-75岁", "六十到七十五岁"),
    ("第1—3课", "第一到三课"),
    # ordinals
    ("第3课", "第三课"),
    ("第10课", "第十课"),
    ("第20届", "第二十届"),
    # fractions and ratios
    ("1/3", "三分之一"),
    ("3/4的党员", "四分之三的党员"),
    ("血压140/90以下", "血压一百四十、九十以下"),
    ("比分3:2", "比分三比二"),
    # phone numbers and hotlines
    ("拨打110报警", "拨打幺幺零报警"),
    ("请拨打12345热线", "请拨打幺二三四五热线"),
    ("反诈专线96110", "反诈专线九六幺幺零"),
    ("12315投诉", "幺二三幺五投诉"),
    ("电话028-12345678", "电话零二八，幺二三四五六七八"),
    ("0288-6667777", "零二八八，六六六七七七七"),
    ("手机13800000001", "手机幺三八，零零零零，零零零幺"),
    ("138 0013 8000", "幺三八，零零幺三，八零零零"),
    ("400-123-4567", "四零零，幺二三，四五六七"),
    ("120元", "一百二十元"),
    ("共110人", "共一百一十人"),
    ("联系电话：5678", "联系电话：五六七八"),
    # units and temperatures
    ("-5℃", "零下五摄氏度"),
    ("零下-2℃", "零下二摄氏度"),
    ("气温-3到5℃", "气温零下三摄氏度到五摄氏度"),  # from below zero to above: each end its unit
    ("3.5km", "三点五千米"),
    ("60kg", "六十千克"),
    ("5g盐", "五克盐"),
    ("140mmHg", "一百四十毫米汞柱"),
    ("100m²", "一百平方米"),
    ("30km/h", "三十千米每小时"),
    ("2.5L", "二点五升"),
    # negatives and arithmetic
    ("-3", "负三"),
    ("增长-2.5", "增长负二点五"),
    ("1+1", "一加一"),
    # punctuation into pauses
    ("Hello, world.", "Hello，world。"),
    ("好的!", "好的！"),
    ("是吗?", "是吗？"),
    ("第一;第二", "第一；第二"),
    ("等等...", "等等，"),
    ("他说——走吧", "他说，走吧"),
    ("小区(东门)", "小区（东门）"),
    ("党员&群众", "党员和群众"),
    ("他说：\"好的.\"", "他说：“好的。”"),
    # quotes and titles are kept for cutting (marks removed only when spoken)
    ("《中国共产党章程》规定", "《中国共产党章程》规定"),
    ("“三不一多”原则", "“三不一多”原则"),
    # things that must not be read
    ("访问https://www.gov.cn/xx了解", "访问三W点gov点cn斜杠X X了解"),
    ("见www.12377.cn网站", "见三W点一二三七七点cn网站"),
    ("邮箱abc@example.com联系", "邮箱A B C艾特E X A M P L E点com联系"),
    ("祝大家健康😀👍", "祝大家健康"),
    ("如图photo_01.jpg所示", "如图所示"),
    ("**重点**内容", "重点内容"),
    # full-width characters and spacing
    ("２０２５年", "二零二五年"),
    ("第　３　课", "第三课"),
    ("5G网络", "五G网络"),
    ("APP 下载", "APP下载"),
]


@pytest.mark.parametrize("written, spoken", CASES, ids=[c[0] for c in CASES])
def test_normalise(written, spoken):
    assert normalise(written) == spoken


def test_case_table_is_large():
    assert len(CASES) >= 80


@pytest.mark.parametrize(
    "n, spoken",
    [(0, "零"), (7, "七"), (19, "十九"), (20, "二十"), (101, "一百零一"), (1001, "一千零一"), (10001, "一万零一"),
     (20000, "二万"), (99999, "九万九千九百九十九"), (-12, "负十二"), (1_0000_0000_0000, "一万亿")],
)
def test_read_integer(n, spoken):
    assert read_integer(n) == spoken


def test_read_number_variants():
    assert read_number("-0.25") == "负零点二五"
    assert read_number("12,500.5") == "一万二千五百点五"


def test_lexicon_longest_first_and_single_pass():
    lexicon = {"重阳": "虫阳", "重阳节": "崇阳节", "崇阳": "不应再替换"}
    assert apply_lexicon("过重阳节和重阳", lexicon) == "过崇阳节和虫阳"
    assert normalise("六安的朋友", {"六安": "陆安"}) == "陆安的朋友"
    assert normalise("拨打12345", {"12345": "市民热线"}) == "拨打市民热线"


def test_strip_quote_marks():
    assert strip_quote_marks("《党章》说“要学习”") == "党章说要学习"


# --------------------------------------------------------------------------- segmentation


def test_paragraphs_headings_and_pauses():
    text = "# 一、学党章\n第一句。第二句！\n第三段第一句？第三段第二句；\n# 二、交党费\n最后一句"
    assert segment_text(text, pack=False) == [
        Segment("一、学党章", "heading"),
        Segment("第一句。", "sentence"),
        Segment("第二句！", "paragraph"),
        Segment("第三段第一句？", "sentence"),
        Segment("第三段第二句；", "paragraph"),
        Segment("二、交党费", "heading"),
        Segment("最后一句", "paragraph"),
    ]


def test_sentences_of_a_paragraph_are_packed_up_to_the_limit():
    text = "甲句。乙句。丙句。\n下一段。"
    assert segment_text(text) == [Segment("甲句。乙句。丙句。", "paragraph"), Segment("下一段。", "paragraph")]
    packed = segment_text("一二三四五。六七八九十。", 18)
    assert packed == [Segment("一二三四五。", "sentence"), Segment("六七八九十。", "paragraph")]


def test_quotes_stay_with_their_sentence():
    assert segment_text("他说：“好。”我们走。", pack=False) == [
        Segment("他说：好。", "sentence"),
        Segment("我们走。", "paragraph"),
    ]


def test_long_sentence_is_cut_at_clause_marks_within_the_byte_limit():
    clause = "各位党员同志要认真学习"  # 11 hanzi = 33 bytes
    sentence = "，".join([clause] * 6) + "。"
    segments = segment_text(sentence, 100)
    assert all(len(s.text.encode()) <= 100 for s in segments)
    assert "".join(s.text for s in segments) == sentence
    assert [s.pause for s in segments][:-1] == ["clause"] * (len(segments) - 1)
    assert segments[-1].pause == "paragraph"


def test_unpunctuated_run_is_cut_by_length_but_never_inside_a_number():
    text = "我们" * 20 + "一千八百六十" + "我们" * 20  # numeral run from 1860
    text = text.replace("一千八百六十", "1860")
    segments = segment_text(text, 60)
    assert all(len(s.text.encode()) <= 60 for s in segments)
    assert "".join(s.text for s in segments) == normalise(text)
    assert any("一千八百六十" in s.text for s in segments)


def test_never_cut_inside_a_book_title():
    title = "《关于加强社区党员教育管理工作的意见》"
    text = "我们" * 12 + title + "我们" * 12
    segments = segment_text(text, 80)
    assert any(strip_quote_marks(title) in s.text for s in segments)
    assert all(len(s.text.encode()) <= 80 for s in segments)


def test_every_segment_fits_the_edge_limit_on_a_huge_unspaced_lesson():
    lesson = "党员同志们要坚持学习" * 800  # 8,000 hanzi without any punctuation
    segments = segment_text(lesson, 1500)
    assert len(segments) >= 16
    assert all(len(s.text.encode()) <= 1500 for s in segments)
    assert "".join(s.text for s in segments) == lesson


def test_segments_without_speakable_text_are_dropped():
    assert segment_text("😀😀\n——\n《》\n正文。") == [Segment("正文。", "paragraph")]


def test_demo_lesson_reads_naturally():
    from importlib import resources

    from core.importer import Limits, parse_script

    data = resources.files("core.demo").joinpath("a02.md").read_bytes()
    script = parse_script("a02.md", data, Limits())
    spoken = " ".join(s.text for s in segment_text(script.text))
    for phrase in ("连续六个月", "三千元以下（含三千元）", "百分之零点五", "四千二百元", "两百五十二元", "零二八，幺二三四五六七八"):
        assert phrase in spoken
    assert not any(ch.isdigit() for ch in spoken)


# Notices as people send them (issue: reading II): each a fact a listener would otherwise mishear.
NOTICE_CASES = [
    ("面积120平方米", "面积一百二十平方米"), ("面积120m²", "面积一百二十平方米"), ("时速120km/h", "时速一百二十千米每小时"),
    ("拨打110报警", "拨打幺幺零报警"), ("8·15", "八一五"), ("12·9运动", "一二九运动"), ("90后党员", "九零后党员"),
    ("00后", "零零后"), ("〔2025〕3号文件", "〔二零二五〕三号文件"), ("编码A-2025-003", "编码A杠二零二五杠零零三"),
    ("沿G318国道", "沿G三一八国道"), ("“618”大促", "“六一八”大促"), ("分2期建设", "分两期建设"), ("5公顷", "五公顷"),
    ("占2成", "占两成"), ("−1/3", "负三分之一"), ("-3℃~5℃", "零下三摄氏度到五摄氏度"),
    ("-5℃~-1℃", "零下五到零下一摄氏度"), ("2019/08", "二零一九年八月"), ("2008.08", "二零零八年八月"),
    ("02月", "二月"), ("公元前202年", "公元前二零二年"), ("¥200", "两百元"), ("$5", "五美元"), ("€3", "三欧元"),
    ("£8", "八英镑"), ("①学习②讨论", "一、学习二、讨论"), ("第Ⅱ部分", "第二部分"), ("No.3", "第三"),
    ("延迟10ms", "延迟十毫秒"), ("9am集合", "上午九点集合"), ("3pm", "下午三点"), ("9:30am", "上午九点三十分"),
    ("2930.5元", "两千九百三十点五元"), ("2000元", "两千元"), ("2.5元", "二点五元"), ("−百分之1", "负百分之一"),
    ("-5%", "负百分之五"), ("前10年", "前十年"), ("马克思·韦伯", "马克思·韦伯"), ("第二期", "第二期"),
    ("am 9:00开始", "上午九点开始"), ("PM 3:30结束", "下午三点三十分结束"), ("上午AM 9:00", "上午九点"),
    ("凌晨1am", "凌晨一点"), ("12am", "凌晨十二点"), ("PM2.5浓度", "PM二点五浓度"), ("3.5万m²", "三点五万平方米"),
    ("1.2亿kWh", "一点二亿千瓦时"), ("101、102、103会议室", "一零一、一零二、一零三会议室"),
    ("301至305室", "三零一至三零五室"), ("在201教室", "在二零一教室"), ("共有300间教室", "共有三百间教室"),
    ("服务120余次", "服务一百二十余次"), ("120多人参加", "一百二十多人参加"), ("拨打120多次", "拨打幺二零多次"),
    ("120来了", "幺二零来了"), ("2025年12月—2026年2月", "二零二五年十二月到二零二六年二月"), ("3月-5月", "三月到五月"),
    ("1.学习党章；2.交流心得", "一、学习党章；二、交流心得"), ("1. 学习党章 2. 交流", "一、学习党章，二、交流"),
    ("共3.5万人", "共三点五万人"), ("₹500", "五百卢比"), ("50¢", "五十美分"), ("100 USD", "一百美元"),
    ("NT$40", "四十新台币"), ("❶学习❷讨论", "一、学习二、讨论"), ("⑴提高认识", "（一）提高认识"), ("⒈学习", "一、学习"),
    ("㈠学习", "（一）学习"), ("ⅩⅣ", "十四"), ("ⅯⅯⅩⅩⅤ年", "二零二五年"), ("1½小时", "一又二分之一小时"),
    ("⅓的人", "三分之一的人"), ("120 m2", "一百二十平方米"), ("5m3", "五立方米"), ("3km2", "三平方千米"),
    ("120平米", "一百二十平米"), ("120册", "一百二十册"), ("5ns", "五纳秒"), ("[2025]3号", "〔二零二五〕三号"),
    ("B2025-01", "B二零二五杠零一"), ("2019/8", "二零一九年八月"), ("01日", "一日"), ("09点", "九点"),
    ("00时", "零时"), ("￥2930.5元", "两千九百三十点五元"), ("$5美元", "五美元"),
    ("2025-12-20 09:00:00", "二零二五年十二月二十日九点"), ("12/20（周六）", "十二月二十日（周六）"),
    ("1/3周", "三分之一周"), ("8:30—12:00 14:00—17:30", "八点三十分到十二点，十四点到十七点三十分"),
    ("时速120公里/小时", "时速一百二十公里每小时"), ("120kcal", "一百二十千卡"), ("120dB", "一百二十分贝"),
    ("110伏", "一百一十伏"), ("2MB", "两兆"), ("血压120/80", "血压一百二十、八十"), ("1/120", "一百二十分之一"),
    ("请拨打110/119/120", "请拨打幺幺零、幺幺九、幺二零"), ("拨打110、119或120", "拨打幺幺零、幺幺九或幺二零"),
    ("1万-2万元", "一万到两万元"), ("1.5万~3万人", "一点五万到三万人"), ("1:1000地图", "一比一千地图"),
    ("2024/2025赛季", "二零二四到二零二五赛季"), ("3——5人", "三到五人"), ("党员——特别是老党员——要", "党员，特别是老党员，要"),
]


@pytest.mark.parametrize("written, spoken", NOTICE_CASES, ids=[c[0] for c in NOTICE_CASES])
def test_notices_as_people_send_them(written, spoken):
    assert normalise(written) == spoken
    assert normalise(spoken) == spoken, "normalising twice equals once"


def test_a_series_may_leave_addresses_unread():
    assert normalise("访问www.gov.cn了解，邮箱abc@qq.com", addresses=False) == "访问了解，邮箱"
    assert normalise("访问www.gov.cn了解") == "访问三W点gov点cn了解"


def test_segments_follow_the_series_choice_about_addresses():
    from audio.segment import segment_text

    text = "详情请访问www.gov.cn查询。"
    assert [s.text for s in segment_text(text)] == ["详情请访问三W点gov点cn查询。"]
    assert [s.text for s in segment_text(text, addresses=False)] == ["详情请访问查询。"]

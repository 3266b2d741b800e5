"""The importer on real files: every encoding, docx, Markdown, zips, and every bad input."""
from __future__ import annotations

import copy
import csv
import io
import os
import zipfile
from pathlib import Path

import docx
import pytest

from core.importer import (
    ImportRefused,
    Limits,
    Script,
    clean_text,
    clean_title,
    inspect_batch,
    markdown_to_text,
    parse_script,
    to_simplified,
)
from tests.helpers.archives import make_zip

LIMITS = Limits()
TITLE = "第3课 社区防诈骗"
BODY = (
    "　　各位党员同志，大家好！今天我们学习如何防范电信网络诈骗。\r\n"
    "2025年全国共破获案件12万起，比去年增长了15%。\r\n\r\n\r\n"
    "请大家记住“三不一多”原则：不轻信、不透露、不转账，多核实。"
)
SOURCE = TITLE + "\r\n" + BODY
EXPECTED_TEXT = (
    "各位党员同志，大家好！今天我们学习如何防范电信网络诈骗。\n"
    "2025年全国共破获案件12万起，比去年增长了15%。\n\n"
    "请大家记住“三不一多”原则：不轻信、不透露、不转账，多核实。"
)


@pytest.mark.parametrize(
    "encoded, encoding",
    [
        (SOURCE.encode("utf-8"), "utf-8"),
        (SOURCE.encode("utf-8-sig"), "utf-8-sig"),
        (SOURCE.encode("gbk"), "gb18030"),
        (SOURCE.encode("utf-16"), "utf-16"),
        (b"\xfe\xff" + SOURCE.encode("utf-16-be"), "utf-16"),
        (SOURCE.encode("utf-16-le"), "utf-16-le"),
    ],
    ids=["utf8", "utf8-bom", "gbk", "utf16-bom-le", "utf16-bom-be", "utf16-le-no-bom"],
)
def test_txt_encodings_are_detected_and_text_is_exact(encoded, encoding):
    script = parse_script("第3课.txt", encoded, LIMITS)
    assert isinstance(script, Script), script
    assert script.encoding == encoding
    assert script.title == "社区防诈骗"  # "第3课" comes from the lesson's place in the series
    assert script.text == EXPECTED_TEXT


def test_gb18030_characters_outside_gbk_survive():
    text = "通知\n请㐀㐁两位同志（姓名含扩展字）和王𠀀同志参加2025年12月1日的学习会，会期共3天。" * 2
    script = parse_script("notice.txt", text.encode("gb18030"), LIMITS)
    assert isinstance(script, Script)
    assert "王𠀀同志" in script.text and script.encoding == "gb18030"


def test_a_traditional_title_loses_its_lesson_number_too():
    assert clean_title("第4課：交黨費") == "交黨費" and clean_title("第兩講 學習") == "學習"


def test_big5_is_detected_and_can_be_simplified():
    text = "繁體講稿\n我們一起學習黨章，按時交納黨費，發揮先鋒模範作用。"
    script = parse_script("old.txt", text.encode("big5"), LIMITS, simplify=True)
    assert script.encoding == "big5"
    assert script.title == "繁体讲稿"
    assert script.text == "我们一起学习党章，按时交纳党费，发挥先锋模范作用。"


def test_traditional_to_simplified_is_phrase_level_and_beats_plain_t2s():
    """OpenCC's Taiwan then Hong Kong tables, measured on a set of phrases where a character
    table goes wrong (著 as 着 or 著, 乾 as 干 or 乾, Hong Kong variants)."""
    import opencc

    with (Path(__file__).parent / "data" / "traditional.tsv").open(encoding="utf-8", newline="") as file:
        pairs = [(row["traditional"], row["simplified"]) for row in csv.DictReader(file, delimiter="\t")]
    plain = opencc.OpenCC("t2s")
    ours = sum(to_simplified(t) == s for t, s in pairs)
    theirs = sum(plain.convert(t) == s for t, s in pairs)
    assert len(pairs) >= 80 and ours == len(pairs) and theirs < ours
    assert to_simplified("影響著每一個人，著名的衞生站") == "影响着每一个人，著名的卫生站"


def test_short_big5_text_is_offered_with_previews_and_decoded_as_chosen():
    data = "黨費通知\n請交黨費。".encode("big5")
    result = parse_script("old.txt", data, LIMITS)
    assert isinstance(result, list)
    by_encoding = {c.encoding: c for c in result}
    assert by_encoding["big5"].preview == "黨費通知\n請交黨費。"
    chosen = parse_script("old.txt", data, LIMITS, encoding="big5")
    assert (chosen.title, chosen.text) == ("黨費通知", "請交黨費。")


def test_short_gbk_text_asks_instead_of_guessing():
    result = parse_script("短.txt", "学习".encode("gbk"), LIMITS)  # also valid UTF-8: "ѧϰ"
    assert isinstance(result, list) and result[0].encoding == "gb18030"
    assert result[0].preview == "学习"
    assert {c.encoding for c in result} >= {"gb18030", "utf-8"}


def test_docx_paragraphs_headings_and_tables(tmp_path):
    document = docx.Document()
    document.add_heading("党员的义务", level=1)
    document.add_paragraph("第一段：认真学习党的理论。")
    document.add_paragraph("")
    document.add_heading("一、交纳党费", level=2)
    document.add_paragraph("按月交纳，月收入3000元以下的交纳0.5%。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "收入", "比例"
    table.cell(1, 0).text, table.cell(1, 1).text = "3000元以下", "0.5%"
    document.add_paragraph("谢谢收听。")
    buffer = io.BytesIO()
    document.save(buffer)
    script = parse_script("lesson.docx", buffer.getvalue(), LIMITS)
    assert script.title == "党员的义务"
    assert script.text == (
        "第一段：认真学习党的理论。\n\n# 一、交纳党费\n按月交纳，月收入3000元以下的交纳0.5%。\n"
        "收入，比例\n3000元以下，0.5%\n谢谢收听。"
    )


def test_docx_text_reads_merged_cells_tabs_and_breaks_once():
    document = docx.Document()
    paragraph = document.add_paragraph("时间：")
    paragraph.add_run("上午").add_tab()
    paragraph.add_run("九点").add_break()
    paragraph.add_run("地点：会议室")
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "学习安排"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "周一"
    table.cell(1, 1).text, table.cell(2, 1).text = "党章", "党史"
    buffer = io.BytesIO()
    document.save(buffer)
    script = parse_script("安排.docx", buffer.getvalue(), LIMITS)
    assert script.title == "时间：上午 九点" and script.text.startswith("地点：会议室\n"), "a break starts a line"
    assert "学习安排\n周一，党章\n党史" in script.text


def test_a_docx_that_unpacks_to_too_much_xml_is_refused_at_once():
    document = docx.Document()
    paragraph = document.add_paragraph("字")._p
    for _ in range(400_000):  # 14 MB of XML in a 70 KB file
        document.element.body.append(copy.deepcopy(paragraph))
    buffer = io.BytesIO()
    document.save(buffer)
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(ImportRefused, match="展开后内容太多"):
        parse_script("炸弹.docx", buffer.getvalue(), LIMITS)


def test_markdown_headings_become_title_and_sections():
    md = (
        "# 第二课：学党章\n\n"
        "开场白，**重要**的话说三遍。[链接文字](http://example.com)![图](a.png)\n\n"
        "## 一、党员义务\n\n- 第一条\n- 第二条\n1. 编号一\n\n"
        "小结\n---\n\n> 引用一句话\n"
    )
    title, text = markdown_to_text(md)
    assert title == "第二课：学党章"
    script = parse_script("a.md", md.encode("utf-8"), LIMITS)
    assert script.title == "学党章"
    assert script.text == (
        "开场白，重要的话说三遍。链接文字\n\n# 一、党员义务\n\n第一条\n第二条\n1. 编号一\n\n# 小结\n\n引用一句话"
    )


def test_given_title_wins_and_first_line_stays_in_text():
    script = parse_script("a.txt", "第一段就是正文。\n第二段。".encode(), LIMITS, title="自定义标题")
    assert script.title == "自定义标题"
    assert script.text == "第一段就是正文。\n第二段。"


def test_long_first_line_is_not_a_title():
    first = "这是一段很长很长的正文，" * 8 + "没有标题。"
    script = parse_script("防跌倒.txt", (first + "\n第二段。").encode(), LIMITS)
    assert script.title == "防跌倒"
    assert script.text.startswith("这是一段很长很长的正文")


def test_clean_text_collapses_blank_lines_and_invisible_characters():
    assert clean_text("\ufeff  甲\u200b乙 \r\n\r\n\r\n\u3000\u3000丙\n\n") == "甲乙\n\n丙"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("空.txt", b"", "「空.txt」是空文件，没有任何文字"),
        ("空白.txt", b" \r\n\t\n " + "\u3000".encode(), "「空白.txt」里没有文字（只有空白）"),
        ("图片.txt", bytes(range(256)) * 8, "「图片.txt」不是文本文件（可能是图片、压缩包或其他二进制文件）"),
        ("讲稿.pdf", b"%PDF-1.4", "「讲稿.pdf」的类型（.pdf）不支持，只能上传 .txt、.md、.markdown、.docx、.zip"),
        ("讲稿.doc", b"\xd0\xcf\x11\xe0", "「讲稿.doc」是旧版 Word（.doc）格式，请在 Word 中“另存为” .docx 后再上传"),
        ("坏.docx", b"not a zip at all", "「坏.docx」不是有效的 Word 文档（.docx），可能已损坏或只是改了扩展名"),
        ("只有标题.md", "# 标题\n".encode(), "「只有标题.md」只有标题，没有正文"),
    ],
)
def test_bad_files_are_refused_with_the_exact_reason(name, data, reason):
    with pytest.raises(ImportRefused) as caught:
        parse_script(name, data, LIMITS)
    assert str(caught.value) == reason


def test_random_bytes_are_refused():
    with pytest.raises(ImportRefused, match="不是文本文件"):
        parse_script("random.txt", os.urandom(4096), LIMITS)


def test_zip_renamed_to_docx_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ImportRefused, match="不是有效的 Word 文档"):
        parse_script("假.docx", buffer.getvalue(), LIMITS)


def test_oversized_script_names_the_limit():
    limits = Limits(max_script_bytes=1024)
    with pytest.raises(ImportRefused) as caught:
        parse_script("大.txt", "字".encode() * 1000, limits)
    assert str(caught.value) == "「大.txt」太大（3 KB），单个讲稿不能超过 1 KB"


# --------------------------------------------------------------------------- zips and batches


def test_zip_is_expanded_in_natural_order_with_gbk_names():
    entries = {
        f"讲稿/第{n}课.txt": f"第{n}课 标题{n}\n正文第{n}课的内容。".encode("gbk" if n % 2 else "utf-8")
        for n in (10, 2, 1)
    }
    entries["__MACOSX/._第1课.txt"] = b"\x00\x05junk"
    entries["讲稿/Thumbs.db"] = b"\x00junk"
    uploads = inspect_batch([("包.zip", make_zip(entries, gbk_names=True))], LIMITS)
    assert [u.filename for u in uploads] == ["包.zip/讲稿/第1课.txt", "包.zip/讲稿/第2课.txt", "包.zip/讲稿/第10课.txt"]
    assert [u.script.title for u in uploads] == ["标题1", "标题2", "标题10"]
    assert uploads[2].script.text == "正文第10课的内容。"


@pytest.mark.parametrize("evil", ["../../etc/passwd.txt", "/etc/passwd.txt", "a/../../b.txt", "C:/Windows/a.txt"])
def test_zip_with_unsafe_paths_is_refused_whole(evil):
    data = make_zip({"ok.txt": "标题\n正文。".encode(), evil: "标题\n正文。".encode()})
    uploads = inspect_batch([("evil.zip", data)], LIMITS)
    assert len(uploads) == 1
    assert uploads[0].error == f"「evil.zip」含有不安全的路径「{evil}」（绝对路径或 ..），已拒绝整个压缩包"


def test_zip_limits():
    many = make_zip({f"{i}.txt": "标题\n正文。".encode() for i in range(6)})
    [upload] = inspect_batch([("many.zip", many)], Limits(max_zip_entries=5))
    assert upload.error == "「many.zip」里有 6 个文件，超过上限 5 个"
    [upload] = inspect_batch([("big.zip", many)], Limits(max_zip_bytes=100))
    assert upload.error.startswith("「big.zip」太大（")
    bomb = make_zip({"bomb.txt": "标题\n".encode() + b"a" * 5000})
    [upload] = inspect_batch([("bomb.zip", bomb)], Limits(max_zip_uncompressed_bytes=4000))
    assert upload.error == "「bomb.zip」解压后有 5 KB，超过上限 4 KB"
    [upload] = inspect_batch([("broken.zip", b"PK\x03\x04 truncated")], LIMITS)
    assert upload.error == "「broken.zip」不是有效的 .zip 压缩包，可能已损坏"


def test_batch_reports_each_file():
    nested = make_zip({"inner.zip": make_zip({"a.txt": b"x"}), "good.txt": "好标题\n好正文。".encode()})
    uploads = inspect_batch(
        [
            ("a.txt", "标题甲\n正文甲。".encode("gbk") * 1 + "这是一段足够长的中文正文，用来确认编码。".encode("gbk")),
            ("b.exe", b"MZ"),
            ("c.zip", nested),
        ],
        LIMITS,
    )
    assert [(u.filename, u.status) for u in uploads] == [
        ("a.txt", "ok"),
        ("b.exe", "refused"),
        ("c.zip/good.txt", "ok"),
        ("c.zip/inner.zip", "refused"),
    ]
    assert uploads[3].error == "「inner.zip」是压缩包里的压缩包，请先解开再上传"

"""The `xiangyin` command through Click's runner; output is the failure message."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import docx
import pytest
from sqlalchemy import select

from app import settings_of
from core.models import Lesson, Member, Series, User
from scripts.cli import cli
from tests.helpers.archives import make_zip
from tests.helpers.web import Client, page_text

pytestmark = pytest.mark.slow  # runs whole commands, rendering included


@pytest.fixture
def run(make_app):
    app = make_app(migrate=False)

    def invoke(*args, input=None):
        return app.test_cli_runner().invoke(cli, list(args), input=input)

    invoke.app = app
    return invoke


def titles(app) -> list[tuple[str, int, str]]:
    with app.extensions["xiangyin.db"].session() as session:
        rows = session.execute(select(Series.title, Lesson.number, Lesson.title).join(Lesson).order_by(Series.id, Lesson.number))
        return [tuple(r) for r in rows]


def test_help_lists_every_command(run):
    result = run("--help")
    assert result.exit_code == 0, result.output
    for command in ("init", "demo", "run", "users", "lessons"):
        assert re.search(rf"^\s+{command}\s", result.output, re.M), result.output
    result = run("lessons", "--help")
    assert "import" in result.output and "list" in result.output


def test_init_creates_database_and_a_first_admin_once(run):
    result = run("init")
    assert result.exit_code == 0, result.output
    head = run.app.extensions["xiangyin.db"].head_revision()
    assert f"数据库已创建（版本 {head}）" in result.output
    secret = re.search(r"密  码：(\S+)", result.output).group(1)
    client = Client(run.app.test_client())
    assert client.login("admin", secret).status_code == 302
    again = run("init")
    assert again.exit_code == 0, again.output
    assert "数据库已是最新版本" in again.output and "管理员账号已存在" in again.output
    assert "密  码" not in again.output


def test_users_create_and_reset(run):
    run("init")
    result = run("users", "create", "wangli", "--role", "volunteer", "--name", "王丽")
    assert result.exit_code == 0, result.output
    assert "已创建志愿者账号 wangli，一次性密码：" in result.output
    duplicate = run("users", "create", "wangli", "--role", "volunteer")
    assert duplicate.exit_code == 1 and "用户名「wangli」已被使用" in duplicate.output
    bad_role = run("users", "create", "x1", "--role", "boss")
    assert bad_role.exit_code == 2
    reset = run("users", "reset-password", "wangli")
    assert reset.exit_code == 0 and "wangli 的一次性密码：" in reset.output
    assert run("users", "reset-password", "nobody").exit_code == 1
    listing = run("users", "list")
    assert "wangli\t志愿者\t王丽" in listing.output


def test_lessons_import_files_folders_and_zips(run, tmp_path):
    run("init")
    folder = tmp_path / "讲稿"
    folder.mkdir()
    (folder / "第2课.txt").write_bytes("第2课 交党费\n按时足额交纳党费。".encode("gbk"))
    (folder / "第10课.txt").write_bytes("第10课 总结\n本季度学习总结。".encode("utf-8-sig"))
    document = docx.Document()
    document.add_heading("学党章", 1)
    document.add_paragraph("党章是党的总章程。")
    document.save(folder / "第1课.docx")
    (tmp_path / "more.zip").write_bytes(make_zip({"附加.md": "# 附加课\n\n附加内容。".encode()}))
    result = run("lessons", "import", str(folder), str(tmp_path / "more.zip"), "--series", "冬季学习包")
    assert result.exit_code == 0, result.output
    assert "已导入 4 个讲稿到「冬季学习包」" in result.output
    assert titles(run.app) == [
        ("冬季学习包", 1, "学党章"),
        ("冬季学习包", 2, "交党费"),
        ("冬季学习包", 3, "总结"),
        ("冬季学习包", 4, "附加课"),
    ]


def test_lessons_import_refuses_bad_input_and_imports_nothing(run, tmp_path):
    run("init")
    good = tmp_path / "好.txt"
    good.write_text("好标题\n好正文。", "utf-8")
    empty = tmp_path / "空.txt"
    empty.write_bytes(b"")
    evil = tmp_path / "evil.zip"
    evil.write_bytes(make_zip({"../x.txt": b"a\nb"}))
    result = run("lessons", "import", str(good), str(empty), str(evil), "--series", "测试")
    assert result.exit_code == 1, result.output
    assert "没有导入任何文件：2 个文件有问题。" in result.output
    assert "✗ 「空.txt」是空文件，没有任何文字" in result.output
    assert "✗ 「evil.zip」含有不安全的路径「../x.txt」" in result.output
    assert titles(run.app) == []
    missing = run("lessons", "import", str(tmp_path / "nope.txt"), "--series", "测试")
    assert missing.exit_code == 1 and "找不到文件或文件夹" in missing.output


def test_a_damaged_file_is_one_line_on_the_terminal_and_its_traceback_in_the_log(run, tmp_path, monkeypatch):
    import core.importer.batch

    def broken(*args, **kwargs):
        raise KeyError("word/document.xml")  # what a damaged file makes a decoder raise

    run("init")
    monkeypatch.setattr(core.importer.batch, "parse_script", broken)
    files = []
    for name in ("甲.docx", "乙.docx"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not really")
        files.append(str(tmp_path / name))
    result = run("lessons", "import", *files, "--series", "测试")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "KeyError" not in result.output, result.output
    assert "✗ 「甲.docx」无法读取" in result.output and "✗ 「乙.docx」无法读取" in result.output
    log = settings_of(run.app).paths.root / "logs" / "xiangyin.log"
    assert str(log) in result.output, "the terminal says where the details are"
    assert log.read_text("utf-8").count("Traceback") >= 2
    debug = run("--debug", "lessons", "import", *files, "--series", "测试")
    assert "Traceback" in debug.output and "KeyError" in debug.output


def test_lessons_import_unsure_encoding_needs_the_flag(run, tmp_path):
    run("init")
    path = tmp_path / "旧稿.txt"
    path.write_bytes("黨費通知\n請交黨費。".encode("big5"))
    result = run("lessons", "import", str(path), "--series", "旧稿")
    assert result.exit_code == 1
    assert "「旧稿.txt」的编码无法确定" in result.output and "--encoding big5" in result.output
    result = run("lessons", "import", str(path), "--series", "旧稿", "--encoding", "big5", "--simplify")
    assert result.exit_code == 0, result.output
    assert titles(run.app) == [("旧稿", 1, "党费通知")]


def test_demo_loads_realistic_scripts_once(run):
    result = run("demo", "--no-audio")
    assert result.exit_code == 0, result.output
    assert "演示专题「平安社区：防范电信网络诈骗」：3 课" in result.output
    assert re.search(r"密  码：\S+", result.output)
    with run.app.extensions["xiangyin.db"].session() as session:
        lessons = session.scalars(select(Lesson)).all()
        assert len(lessons) == 8
        for lesson in lessons:
            assert 300 <= len(lesson.text) <= 3000, lesson.title
            assert not lesson.title.startswith("第")
        joined = "\n".join(lesson.text for lesson in lessons)
        for needle in ("%", "年", "“", "# ", ":"):
            assert needle in joined
        assert session.scalar(select(User).where(User.username == "zhangxm")).role == "volunteer"
        assert len(session.scalars(select(Member)).all()) == 5
    listen = re.search(r"演示收听页.*?(http://\S+)", result.output).group(1)
    page = run.app.test_client().get(listen.replace(settings_of(run.app).public_url, ""))
    assert page.status_code == 200 and "2026年冬季党员学习包" in page.get_data(as_text=True)
    again = run("demo", "--no-audio")
    assert again.exit_code == 0 and "演示数据已经载入过，没有重复载入。" in again.output
    assert listen in again.output, "the same demo code every time"
    assert len(titles(run.app)) == 8


def test_text_previews_a_gbk_file_and_stdin(run, tmp_path):
    run("init")
    path = tmp_path / "讲稿.txt"
    path.write_bytes("第1课 交党费\n每月21元，拨打12345。\n# 小结\n重阳节要记住。".encode("gbk"))
    result = run("text", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "[标题停] 交党费",
        "[段停] 每月二十一元，拨打幺二三四五。",
        "[标题停] 小结",
        "[段停] 崇阳节要记住。",  # the seeded lexicon applies
    ]
    run("lessons", "import", str(path), "--series", "党费")
    stored = run("text", "--lesson", "1")
    assert stored.output.splitlines()[:2] == ["[标题停] 交党费", "[段停] 每月二十一元，拨打幺二三四五。"]
    assert "请给出一个讲稿文件" in run("text").output and "没有编号为 99 的课程" in run("text", "--lesson", "99").output
    changes = run("text", str(path), "--changes")
    assert changes.output.splitlines() == ["21元 → 二十一元", "12345 → 幺二三四五", "重阳节 → 崇阳节"]
    from core.lexicon import save_entry

    with run.app.extensions["xiangyin.db"].session() as session:
        save_entry(session, "还款", "", actor=None, pinyin="huán kuǎn")
        session.commit()
    chosen = run("text", "-", "--changes", input="按时还款。")
    assert chosen.output.splitlines() == ["还款 → 环款  离线声音照拼音 huán kuǎn"], "every rewrite listed, with its pinyin"
    cantonese = run("text", "-", "--voice", "offline-cantonese", input="请拨打110，2个人。")
    assert cantonese.output.splitlines() == ["[段停] 请拨打一一零，两个人。"]
    piped = run("text", "-", "--sentences", input="第一句。第二句！")
    assert piped.output.splitlines() == ["[句停] 第一句。", "[段停] 第二句！"]
    missing = run("text", str(tmp_path / "none.txt"))
    assert missing.exit_code == 2 and "none.txt" in missing.output


def test_voices_lists_the_catalog_with_availability(run):
    result = run("voices")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "编号\t名称\t引擎\t方言\t性别\t现在可用"
    from audio.voices import VOICES

    assert sorted(line.split("\t")[0] for line in lines[1:]) == sorted(v.id for v in VOICES), "every voice, once"
    assert "offline-cantonese\t粤语 · 离线合成\tespeak\t粤语\t男声\t是（离线可用）" in lines
    assert any(line.startswith("dongbei-xiaobei\t东北话 · 晓北（女）\tedge\t东北话\t女声\t") for line in lines)


def test_say_writes_a_real_mp3(run, tmp_path):
    from mutagen.mp3 import MP3

    out = tmp_path / "试听.mp3"
    result = run("say", "各位党员同志，大家好！今天是2025年12月1日。", "--voice", "offline-mandarin", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "普通话 · 离线合成" in result.output
    info = MP3(out).info
    assert (info.channels, info.sample_rate) == (1, 44100)
    assert 4 < info.length < 20
    bad = run("say", "你好", "--voice", "nobody", "-o", str(out))
    assert bad.exit_code == 1 and "没有这个声音：nobody" in bad.output
    bad_rate = run("say", "你好", "--rate", "-90%", "-o", str(out))
    assert bad_rate.exit_code == 1 and "超出范围" in bad_rate.output


def test_say_falls_back_when_online_service_is_unreachable(make_app, tmp_path):
    app = make_app(migrate=False, EDGE_WSS_URL="ws://127.0.0.1:9/edge/v1?x=1", EDGE_ATTEMPTS=1, EDGE_TIMEOUT=2)
    out = tmp_path / "a.mp3"
    result = app.test_cli_runner().invoke(cli, ["say", "你好", "--voice", "mandarin-xiaoxiao", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "所选声音不可用，已改用 普通话 · 离线合成" in result.output
    app = make_app(migrate=False, EDGE_WSS_URL="ws://127.0.0.1:9/edge/v1?x=1", EDGE_ATTEMPTS=1, EDGE_TIMEOUT=2,
                   SPEECH_FALLBACK="fail")
    result = app.test_cli_runner().invoke(cli, ["say", "你好", "--voice", "mandarin-xiaoxiao", "-o", str(out)])
    assert result.exit_code == 1 and "在线语音服务连续 1 次失败" in result.output


def test_demo_renders_its_library_so_the_printed_link_plays(run):
    old = os.umask(0o022)
    try:
        result = run("demo")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert "用离线声音生成演示音频（8 课）" in result.output and "音频已生成，打开就能播放" in result.output
    listen = re.search(r"演示收听页.*?(http://\S+)", result.output).group(1)
    client = run.app.test_client()
    series = client.get(listen.replace(settings_of(run.app).public_url, "")).get_data(as_text=True)
    lesson = client.get(re.search(r'class="next resume-next" href="([^"]+)"', series).group(1))
    audio = client.get(re.search(r'<audio id="audio"[^>]*src="([^"]+)"', lesson.get_data(as_text=True)).group(1))
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg" and len(audio.data) > 10_000
    files = list((settings_of(run.app).data_dir / "audio").glob("*/*.mp3"))
    light = [f for f in files if f.name.endswith(".light.mp3")]
    assert len(files) == 16 and len(light) == 8, "each lesson's track and its light copy"
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in files), "files follow the umask"
    assert "演示收听：2 次" in result.output
    admin = Client(client)
    with run.app.extensions["xiangyin.db"].session() as session:
        session.get(User, 1).must_change_password = False
        session.commit()
    admin.login("admin", re.search(r"密  码：(\S+)", result.output).group(1))
    kpis = page_text(admin.get("/stats?days=7"))
    assert re.search(r"\b2 收听次数 1 听完次数", kpis), "the dashboard shows the demo's plays"
    visits = page_text(admin.get("/visits"))
    assert "超期未走访（2）" in visits and "待首次走访（1）" in visits and "王秀英" in page_text(admin.get("/visits"))


def test_render_command_renders_and_reports_failures(run):
    run("demo", "--no-audio")
    result = run("render", "--series", "3")
    assert result.exit_code == 0, result.output
    assert "完成：2 课已生成。" in result.output
    made = re.findall(r"✓ 「[^」]+」第\d课 .+ → (\S+\.mp3)", result.output)
    assert len(made) == 2 and all(Path(path).is_file() for path in made), "render says where the MP3s went"
    again = run("render", "--series", "3")
    assert again.exit_code == 0 and "2 课已有相同设置的音频，不再重复生成。" in again.output
    failing = run("render", "--lesson", "1", "--voice", "offline-hakka")
    assert failing.exit_code == 1
    assert "1 课生成失败：" in failing.output and "只能朗读白话字拼音" in failing.output
    assert run("render", "--voice", "offline-mandarin").exit_code == 1
    assert "请指定 --series、--lesson 或 --all 之一" in run("render").output

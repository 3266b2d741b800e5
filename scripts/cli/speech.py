"""How a text will be read and said: text, voices, say."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from audio.text import Lexicon
from scripts.cli.common import database, fail, settings


def _lexicon() -> Lexicon:
    """The admins' lexicon when the database is ready; previews still work before `init`."""
    from core.lexicon import lexicon_map

    if not database().is_current():
        return Lexicon()
    with database().session() as session:
        return lexicon_map(session)


def _read_script(source) -> str:
    """A script file through the importer's rules, or raw text from standard input."""
    from core.importer import ImportRefused, Limits, clean_text, decode_text, parse_script

    label = getattr(source, "name", "-")  # the test runner's stdin has no name
    data, name = source.read(), Path(label).name
    try:
        if label in ("-", "<stdin>"):
            decoded = decode_text("标准输入", data)
            if isinstance(decoded, list):
                fail("标准输入的编码无法确定，请先转换为 UTF-8")
            return clean_text(decoded[0])
        script = parse_script(name, data, Limits.from_settings(settings()))
    except ImportRefused as exc:
        fail(str(exc))
    if isinstance(script, list):
        fail(f"「{name}」的编码无法确定，请先用 xiangyin lessons import --encoding 导入")
    return f"# {script.title}\n{script.text}"


@click.command("text")
@click.argument("source", type=click.File("rb"), required=False)
@click.option("--lesson", "lesson_id", type=int, help="预览课程库里的一课（课程编号，见 lessons list）")
@click.option("--voice", "voice_id", default="mandarin-xiaoxiao", show_default=True, help="按这个声音引擎的长度限制切分")
@click.option("--sentences", is_flag=True, help="每句一行（不合并同段的句子）")
@click.option("--changes", is_flag=True, help="只列出改读的地方：原文 → 读作（次数）")
@with_appcontext
def text_command(source, lesson_id: int | None, voice_id: str, sentences: bool, changes: bool) -> None:
    """预览讲稿会怎样被朗读：规范化后的文字，一行一段，带停顿类型。FILE 为 - 时读标准输入；
    --lesson 预览已导入的一课。"""
    from audio.engines import engine_classes
    from audio.preview import reading_changes
    from audio.segment import preview_lines, segment_text
    from audio.voices import UnknownVoice, get_voice

    try:
        voice = get_voice(voice_id)
    except UnknownVoice as exc:
        fail(str(exc))
    limit = engine_classes()[voice.engine].byte_limit
    if (source is None) == (lesson_id is None):
        fail("请给出一个讲稿文件（或 - 读标准输入），或用 --lesson 指定一课")
    if lesson_id is not None:
        from core.models import Lesson

        with database().session() as session:
            lesson = session.get(Lesson, lesson_id) if 0 < lesson_id < 2**62 else None
            if lesson is None:
                fail(f"没有编号为 {lesson_id} 的课程（用 xiangyin lessons list 查看）")
            text = f"# {lesson.title}\n{lesson.text}"
    else:
        text = _read_script(source)
    if changes:
        from audio.polyphones import marked

        lexicon = _lexicon()
        for written, spoken, count in reading_changes(text, lexicon, voice.language)[1]:
            chosen = lexicon.pinyin.get(spoken)
            click.echo(f"{written} → {spoken or '（不读）'}" + (f"（{count} 处）" if count > 1 else "")
                       + (f"  离线声音照拼音 {marked(tuple(chosen.split()))}" if chosen else ""))
        return
    segments = segment_text(text, limit, lexicon=_lexicon(), pack=not sentences, language=voice.language)
    for line in preview_lines(segments):
        click.echo(line)


@click.command("voices")
@with_appcontext
def voices_command() -> None:
    """列出全部声音：编号、名称、引擎、方言、性别、现在能否使用（不能用时说明原因）。"""
    from core.voices import voice_menu

    click.echo("编号\t名称\t引擎\t方言\t性别\t现在可用")
    for _, choices in voice_menu(settings()):
        for choice in choices:
            voice = choice.voice
            click.echo(
                f"{voice.id}\t{voice.label}\t{voice.engine}\t{voice.dialect}\t{voice.gender_label}\t"
                f"{'是' if choice.usable else '否'}（{choice.reason}）"
            )


@click.command("say")
@click.argument("text")
@click.option("--voice", "voice_id", default="offline-mandarin", show_default=True)
@click.option("--rate", default=None, help="语速，如 -10%（默认取配置 DEFAULT_RATE）")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出的 MP3 文件")
@with_appcontext
def say_command(text: str, voice_id: str, rate: str | None, output: str) -> None:
    """把一段文字合成为 MP3，快速试听声音和读音。"""
    from audio.engines import EngineError, parse_rate
    from audio.master import MasteringError, Tags, master, track_items
    from audio.voices import UnknownVoice
    from core.voices import speaker_for

    try:
        rate_value = parse_rate(rate if rate is not None else settings().default_rate)
        result = speaker_for(settings()).render(text, voice_id, rate=rate_value, lexicon=_lexicon())
        tags = Tags(title=text[:30], album="试听", artist=settings().org_name)
        master(track_items(result.segments), Path(output), tags)
    except (ValueError, UnknownVoice, EngineError, MasteringError) as exc:
        fail(str(exc))
    note = f"（所选声音不可用，已改用 {result.voice.label}：{result.fallback_reason}）" if result.fallback_reason else ""
    click.echo(f"已生成 {output}：{result.voice.label}，{result.duration:.1f} 秒{note}")



"""The pronunciation lexicon page and the reading preview used by the lesson editor."""
from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from audio.engines.edge import EdgeEngine
from audio.polyphones import flags, marked, parse_pinyin, respell_word, word_pinyin
from audio.preview import reading_changes
from audio.segment import segment_text
from audio.text import apply_lexicon
from core.lexicon import delete_entry, entries, lexicon_map, save_entry
from core.models import LexiconEntry
from core.rendering import audio_saying
from web import session
from web.auth import admin_required
from web.errors import refill

bp = Blueprint("lexicon", __name__)
PAUSE_LABELS = {"clause": "短停", "sentence": "句停", "paragraph": "段停", "heading": "标题停"}


_PREVIEWS: OrderedDict[tuple[str, int], dict] = OrderedDict()
_PREVIEWS_KEPT = 64
_PREVIEWS_LOCK = threading.Lock()


def reading_preview(text: str) -> dict:
    """How the lesson will be read: every change the reading rules and the lexicon make
    (written → spoken, most frequent first, and marked in each paragraph), and the segments
    the online engine would get. Kept per text and lexicon (a lesson version reads the same
    until either changes), because the lesson page shows it on every view."""
    lexicon = lexicon_map(session())
    key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
           hash((frozenset(lexicon.items()), frozenset(lexicon.pinyin.items()))))
    with _PREVIEWS_LOCK:
        if key in _PREVIEWS:
            _PREVIEWS.move_to_end(key)
            return _PREVIEWS[key]
    paragraphs, changes = reading_changes(text, lexicon)
    preview = {
        "segments": [{"text": s.text, "pause": s.pause, "label": PAUSE_LABELS[s.pause]}
                     for s in segment_text(text, EdgeEngine.byte_limit, lexicon=lexicon)],
        "paragraphs": [[{"written": span.written, "spoken": span.spoken, "changed": span.changed} for span in spans]
                       for spans in paragraphs],
        "changes": [{"written": written, "spoken": spoken, "count": count, "pinyin": _pinyin_of(spoken, lexicon)}
                    for written, spoken, count in changes],
        "polyphones": _polyphones(apply_lexicon(text, lexicon), lexicon.pinyin),
    }
    with _PREVIEWS_LOCK:
        _PREVIEWS[key] = preview
        while len(_PREVIEWS) > _PREVIEWS_KEPT:
            _PREVIEWS.popitem(last=False)
    return preview


def _polyphones(text: str, chosen: Iterable[str]) -> list[dict]:
    """多音字 no phrase settles, once per word, each with a lexicon entry ready for every
    reading: the word's pinyin for the voices that take it, and what the online voice will
    be given (the same word when no character has only that reading)."""
    seen, found = set(), []
    for flag in flags(text, chosen):
        if flag.word in seen:
            continue
        seen.add(flag.word)
        options = []
        for reading in flag.readings:
            said = word_pinyin(flag, reading)
            try:
                syllables = parse_pinyin(said)
            except ValueError:
                continue  # a neighbour with no known reading: that word cannot carry pinyin
            options.append({"reading": reading, "pinyin": said, "spoken": respell_word(flag.word, syllables)})
        found.append({"word": flag.word, "char": flag.char, "likely": flag.likely, "options": options})
    return found


def _pinyin_of(spoken: str, lexicon) -> str:
    """The chosen reading a change carries, in tone marks ("" for a rule's change)."""
    return tone_marks(lexicon.pinyin.get(spoken, ""))


def tone_marks(pinyin: str) -> str:
    """Stored tone numbers as people read them (zhang3 zhe3 → zhǎng zhě)."""
    return marked(tuple(pinyin.split()))


bp.add_app_template_global(reading_preview, "reading_preview")
bp.add_app_template_filter(tone_marks, "tone_marks")


@bp.route("/lexicon/")
@admin_required
def index():
    """The add form can arrive filled in from a lesson's reading preview (改读法)."""
    form = {name: request.args.get(name, "")[:limit]
            for name, limit in (("written", 64), ("spoken", 128), ("pinyin", 256), ("note", 200))}
    return render_template("lexicon/index.html", entries=entries(session()), form=form)


def _audio_to_redo(written: str) -> str:
    count = audio_saying(session(), written)
    if not count:
        return ""
    return (f"。已有音频的 {count} 课说到「{written}」，那些音频还是原来的读法："
            "在课的页面点“重新生成音频”，就按现在的读法重做")


@bp.route("/lexicon/new", methods=["POST"])
@bp.route("/lexicon/<int:entry_id>", methods=["POST"])
@admin_required
def save(entry_id: int | None = None):
    db_session = session()
    entry = None
    if entry_id is not None:
        entry = db_session.get(LexiconEntry, entry_id) or abort(404)
    refill("lexicon/index.html", entries=lambda: entries(db_session))
    before = (entry.written, entry.spoken, entry.pinyin) if entry else None
    saved = save_entry(db_session, request.form.get("written", ""), request.form.get("spoken", ""),
                       request.form.get("note", ""), entry, actor=current_user._get_current_object(),
                       pinyin=request.form.get("pinyin", ""))
    db_session.commit()
    audible = before != (saved.written, saved.spoken, saved.pinyin)  # a changed note alone says nothing new
    flash("读音词典已保存" + (_audio_to_redo(saved.written) if audible else ""), "success")
    back = request.form.get("back", "")
    # A 多音字 chosen on a lesson's reading preview: back to that preview, which now reads it.
    if re.fullmatch(r"/lessons/\d{1,12}", back):
        return redirect(back + "#reading", 303)
    return redirect(url_for("lexicon.index"), 303)


@bp.route("/lexicon/<int:entry_id>/delete", methods=["POST"])
@admin_required
def delete(entry_id: int):
    db_session = session()
    entry = db_session.get(LexiconEntry, entry_id) or abort(404)
    delete_entry(db_session, entry, actor=current_user._get_current_object())
    db_session.commit()
    flash(f"已删除「{entry.written}」" + _audio_to_redo(entry.written), "success")
    return redirect(url_for("lexicon.index"), 303)


@bp.route("/preview", methods=["POST"])
@admin_required
def preview():
    text = request.form.get("text", "")
    if len(text) > 200_000:
        abort(413)
    return jsonify(reading_preview(text))

"""The files beside the tracks: catalogs for the volunteer and the family, a playlist, and
the manifest written last (hashes of every file)."""
from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath

from audio.pack.plan import CATALOG_PDF, CATALOG_TXT, PLAYLIST, SIDE_FILES, Plan, Track, _format_duration

# --------------------------------------------------------------------------- side files


def catalog_text(plan: Plan) -> bytes:
    lines = [plan.info.get("title", "学习包"), ""]
    if plan.info.get("member"):
        lines.append(f"收听人：{plan.info['member']}")
    lines.append(plan.count_line())
    lines.append("")
    for path, track in plan.files():
        lines.append(f"{PurePosixPath(path).name[:3]}  {track.title}  {_format_duration(track.duration)}")
        if track.question:
            lines.append(f"     听后一问：{track.question}")
    lines += ["", f"包编号：{plan.uuid}"]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def playlist(plan: Plan, folder_prefix: str) -> bytes:
    lines = ["#EXTM3U"]
    for path, track in plan.files():
        lines.append(f"#EXTINF:{int(round(track.duration))},{track.title}")
        lines.append(path[len(folder_prefix) + 1:])
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def catalog_pdf(plan: Plan) -> bytes:
    """A large-print A4 label: number → title, so a helper can find a lesson by ear and eye."""
    from audio.pdf import cjk_pdf

    pdf = cjk_pdf()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("noto", size=26)
    pdf.multi_cell(0, 13, plan.info.get("title", "学习包"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=16)
    member = f"收听人：{plan.info['member']}    " if plan.info.get("member") else ""
    pdf.multi_cell(0, 9, f"{member}{plan.count_line()}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    current = None
    for path, track in plan.files():
        folder = str(PurePosixPath(path).parent)
        if folder != current and folder != plan.top:
            pdf.set_font("noto", size=20)
            pdf.multi_cell(0, 11, PurePosixPath(folder).name, new_x="LMARGIN", new_y="NEXT")
        current = folder
        pdf.set_font("noto", size=20)
        pdf.multi_cell(0, 11, f"{PurePosixPath(path).name[:3]}  {track.title}  （{_format_duration(track.duration)}）",
                       new_x="LMARGIN", new_y="NEXT")
        if track.question:
            pdf.set_font("noto", size=16)
            pdf.multi_cell(0, 9, f"听后一问：{track.question}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    pdf.ln(4)
    pdf.multi_cell(0, 6, f"包编号 {plan.uuid}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def side_files(plan: Plan) -> dict[str, bytes]:
    made = {CATALOG_TXT: catalog_text(plan), PLAYLIST: playlist(plan, plan.top), CATALOG_PDF: catalog_pdf(plan)}
    return {name: made[name] for name in SIDE_FILES}


def track_entry(plan: Plan, path: str, track: Track) -> dict:
    return {"path": path[len(plan.top) + 1:], "title": track.title, "lesson_id": track.lesson_id,
            "version": track.version_hash, "voice": track.voice, "duration": round(track.duration, 1),
            "size": track.size, "sha256": track.sha256}


def side_entry(name: str, data: bytes) -> dict:
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def manifest(plan: Plan, entries: list[dict]) -> bytes:
    body = {
        "format": "xiangyin-pack/1",
        "uuid": plan.uuid,
        **plan.info,
        "total_duration": round(plan.total_duration, 1),
        "files": entries,
    }
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


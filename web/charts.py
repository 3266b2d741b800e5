"""Charts drawn on the server as inline SVG: no chart library, no CDN, readable when printed."""
from __future__ import annotations

from html import escape

from markupsafe import Markup

from core.reports.listening import Tally

PLAYS = "#b3121b"
COMPLETIONS = "#2e7d32"
WIDTH = 720


def _nice_max(value: int) -> int:
    for step in (1, 2, 3, 4, 5, 10, 15, 20, 25, 50, 75, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return value


def daily_bars(tallies: list[Tally], title: str) -> Markup:
    """Plays and completions per day, side by side, with a light grid of four steps."""
    height, left, bottom, top = 240, 40, 28, 12
    plot_w, plot_h = WIDTH - left - 8, height - bottom - top
    top_value = _nice_max(max((t.plays for t in tallies), default=0))
    slot = plot_w / max(1, len(tallies))
    bar = max(1.0, slot * 0.4)
    label_every = max(1, round(len(tallies) / 10))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for step in range(5):
        value = top_value * step // 4
        y = top + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{left}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">{value}</text>')
    for index, tally in enumerate(tallies):
        x = left + index * slot + (slot - 2 * bar) / 2
        for offset, value, colour, name in ((0, tally.plays, PLAYS, "收听"), (bar, tally.completions, COMPLETIONS, "听完")):
            h = plot_h * value / top_value if top_value else 0
            parts.append(f'<rect x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(tally.label)} {name} {value}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text x="{left + index * slot + slot / 2:.1f}" y="{height - 8}" class="axis" '
                         f'text-anchor="middle">{escape(tally.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(tallies: list[Tally], title: str, limit: int = 12) -> Markup:
    """One row per item: its name (and a note under it), a bar of plays with the completed
    part darker, the counts."""
    shown = tallies[:limit]
    if not shown:
        return Markup('<p class="empty">这段时间没有收听。</p>')
    noted = any(t.note for t in shown)
    row, label_w, value_w = (44 if noted else 30), 260, 110
    height = len(shown) * row + 8
    bar_w = WIDTH - label_w - value_w
    top_value = max(t.plays for t in shown) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for index, tally in enumerate(shown):
        y = 4 + index * row
        label = tally.label if len(tally.label) <= 18 else tally.label[:17] + "…"
        note = tally.note if len(tally.note) <= 22 else tally.note[:21] + "…"
        plays_w = bar_w * tally.plays / top_value
        done_w = bar_w * tally.completions / top_value
        if noted:
            parts.append(f'<text x="{label_w - 8}" y="{y + 36}" class="note" text-anchor="end">{escape(note)}</text>')
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" class="label" text-anchor="end">{escape(label)}'
            f"<title>{escape(tally.note + ' · ' if tally.note else '')}{escape(tally.label)}</title></text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{plays_w:.1f}" height="20" fill="{PLAYS}" opacity="0.35"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{done_w:.1f}" height="20" fill="{COMPLETIONS}"/>'
            f'<text x="{label_w + plays_w + 6:.1f}" y="{y + 19}" class="axis">{tally.plays} / 听完 {tally.completions}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))

"""Small server-rendered SVG charts (no JavaScript, no inline styles: classes only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import localtime

WIDTH = 420
HEIGHT = 120
LEFT = 56  # room for the value axis labels
BOTTOM = 18  # room for the time labels
TOP = 8


def _time_label(at: datetime, span_seconds: float) -> str:
    local = localtime(at)
    return local.strftime("%H:%M") if span_seconds <= 36 * 3600 else local.strftime("%b %d")


def bar_chart(
    points: Sequence[tuple[datetime, float]],
    *,
    title: str,
    value_label: Callable[[float], str],
    css_class: str = "bars",
) -> SafeString:
    """Return an SVG bar chart of (time, value) points, one bar per point, with tooltips."""
    if not points:
        return mark_safe("")
    top_value = max(value for _, value in points) or 1.0
    plot_width = WIDTH - LEFT - 4
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / len(points)
    bar = max(1.0, slot * 0.8)
    span = (points[-1][0] - points[0][0]).total_seconds()
    parts = [
        f'<svg class="chart {escape(css_class)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 4}" '
        f'y2="{TOP + plot_height}"/>',
        f'<text class="label" x="{LEFT - 6}" y="{TOP + 8}" text-anchor="end">'
        f"{escape(value_label(top_value))}</text>",
        f'<text class="label" x="{LEFT - 6}" y="{TOP + plot_height}" text-anchor="end">0</text>',
    ]
    for index, (at, value) in enumerate(points):
        height = plot_height * value / top_value
        x = LEFT + index * slot + (slot - bar) / 2
        y = TOP + plot_height - height
        tip = f"{localtime(at):%Y-%m-%d %H:%M} · {value_label(value)}"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
            f'height="{max(height, 0):.1f}"><title>{escape(tip)}</title></rect>'
        )
    for index in sorted({0, len(points) // 2, len(points) - 1}):
        at = points[index][0]
        x = LEFT + index * slot + slot / 2
        anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
        parts.append(
            f'<text class="label" x="{x:.1f}" y="{HEIGHT - 4}" text-anchor="{anchor}">'
            f"{escape(_time_label(at, span))}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every text piece above is escaped

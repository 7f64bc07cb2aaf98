"""Template filters of the queries section: durations, percentages, counts."""

from __future__ import annotations

import json

from django import template

register = template.Library()


@register.filter
def ms(value: float | None) -> str:
    """Return milliseconds as a short duration: 0.42 ms, 120 ms, 3.4 s, 2.1 min, 1.5 h."""
    if value is None:
        return "—"
    value = float(value)
    if value < 1:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


@register.filter
def seconds(value: float | None) -> str:
    """Return seconds as 4 s, 2 min 05 s, 3 h 12 min, 2 d 4 h."""
    if value is None:
        return "—"
    total = int(value)
    if total < 60:
        return f"{value:.1f} s" if value < 10 else f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def pct(value: float | None, digits: int = 1) -> str:
    """Return a percentage with `digits` decimals, or a dash when unknown."""
    if value is None:
        return "—"
    return f"{float(value):.{int(digits)}f} %"


@register.filter
def thousands(value: float | int | None) -> str:
    """Return a count with thousands separators (12,345), or a dash."""
    if value is None:
        return "—"
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 10 or number.is_integer() else f"{number:,.1f}"


@register.filter
def ratio(value: float | None) -> str:
    """Return a 0-1 ratio as a percentage (cache hit ratios), or a dash."""
    return "—" if value is None else f"{100.0 * float(value):.2f} %"


@register.filter
def times(value: float | None) -> str:
    """Return a misestimate factor as x12 or /40 (with the multiplication and division signs)."""
    if value is None:
        return ""
    if value >= 1:
        return f"\u00d7{value:,.0f}" if value >= 10 else f"\u00d7{value:.1f}"
    return f"÷{1 / value:,.0f}" if value <= 0.1 else f"÷{1 / value:.1f}"


@register.filter
def pretty_json(value: object) -> str:
    """Return a value as indented JSON text (escaped by the template like any text)."""
    return json.dumps(value, indent=2, default=str)


@register.filter
def fixed(value: float | None, digits: int = 1) -> str:
    """Return a number with a fixed count of decimals and a dot (fast; for SVG sizes too)."""
    if value is None:
        return ""
    return f"{float(value):.{int(digits)}f}"

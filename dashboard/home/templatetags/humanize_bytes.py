"""Template filters for sizes and counts."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()
UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")


@register.filter(name="bytes")
def human_bytes(value: Any) -> str:
    """Return a size in bytes as '12.3 MB' (1024-based, like pg_size_pretty)."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "—"
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PB"


@register.filter(name="approx")
def approx_count(value: Any) -> str:
    """Return a row estimate as '~1.2M' style text; negative or missing means unknown."""
    try:
        count = float(value)
    except (TypeError, ValueError):
        return "unknown"
    if count < 0:
        return "unknown"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= limit:
            return f"~{count / limit:.1f}{suffix}"
    return f"~{count:.0f}"

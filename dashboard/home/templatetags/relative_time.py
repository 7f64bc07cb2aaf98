"""The one way a moment is shown: relative ("3 minutes ago", "in 2 hours", "just now") in a
`<time datetime>` whose title is the exact time, so hovering tells the precise moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

register = template.Library()
JUST_NOW_SECONDS = 60  # closer than this to now reads "just now", never "0 minutes ago"


def as_datetime(value: object) -> datetime | None:
    """Return `value` (a datetime, a date, or ISO text) as an aware datetime, or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return None


def relative_text(moment: datetime, now: datetime) -> str:
    """Return how far `moment` is from `now`, in words, to the largest unit."""
    seconds = (now - moment).total_seconds()
    if abs(seconds) < JUST_NOW_SECONDS:
        return "just now"
    if seconds > 0:
        return f"{timesince(moment, now, depth=1)} ago"
    return f"in {timeuntil(moment, now, depth=1)}"


@register.filter(name="relative_time")
def relative_time(value: object, now: datetime | None = None) -> SafeString | str:
    """Return `<time datetime="…" title="exact">3 minutes ago</time>`; '' for no moment."""
    moment = as_datetime(value)
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        relative_text(moment, now or timezone.now()),
    )

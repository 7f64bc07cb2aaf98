"""One way to show a moment: relative words, the exact time in the title, never "0 minutes"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.template import Context, Template

from dashboard.home.templatetags.relative_time import relative_time

NOW = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(seconds=0), "just now"),
        (timedelta(seconds=-59), "just now"),  # never "0 minutes ago"
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=-3, seconds=-10), "3\xa0minutes ago"),
        (timedelta(hours=-26), "1\xa0day ago"),  # one unit only: no "1 day, 2 hours"
        (timedelta(hours=2, minutes=5), "in 2\xa0hours"),
    ],
)
def test_words_are_relative_to_now(offset, words):
    html = relative_time(NOW + offset, now=NOW)
    assert f">{words}</time>" in html


def test_the_exact_time_is_in_the_title_and_the_datetime_attribute():
    html = relative_time(NOW - timedelta(hours=5), now=NOW)
    assert html.startswith('<time datetime="2026-03-04T07:00:00+00:00"')
    assert 'title="2026-03-04 07:00:00 UTC"' in html


def test_text_and_dates_are_read_and_nothing_is_nothing():
    assert ">1\xa0hour ago<" in relative_time("2026-03-04T11:00:00+00:00", now=NOW)
    assert 'datetime="2026-03-03T00:00:00+00:00"' in relative_time(date(2026, 3, 3), now=NOW)
    assert relative_time(None) == "" and relative_time("not a time") == ""


def test_the_filter_escapes_and_is_used_from_templates():
    rendered = Template("{% load relative_time %}{{ when|relative_time }}").render(
        Context({"when": datetime.now(UTC)})
    )
    assert rendered.startswith("<time datetime=") and ">just now</time>" in rendered


def test_no_template_shows_a_moment_another_way():
    """timesince/timeuntil (and their "0 minutes") are not used by any template any more."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if "|timesince" in path.read_text() or "|timeuntil" in path.read_text()
    ]
    assert offenders == []


def test_every_moment_labelled_utc_is_converted_to_utc():
    """A template that says "UTC" beside a moment shows it through `|utc` (Django's `date`
    filter alone shows the console's TIME_ZONE), whatever TIME_ZONE is."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "templates"
    offenders = []
    for path in root.rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "UTC" in line:
                dated = re.findall(r"\{\{\s*([^}|]+)((?:\|[^}]*)?)\}\}", line)
                offenders += [
                    f"{path.relative_to(root)}:{number}: {value.strip()}"
                    for value, filters in dated
                    if "|date" in filters and "|utc" not in filters
                ]
    assert offenders == []

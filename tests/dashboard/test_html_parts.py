"""The format_html-style helpers: every argument escaped unless already safe, results safe."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString, mark_safe

from dashboard.html_parts import html_format, html_join, html_text

HOSTILE = "\"><script>alert(1)</script>&amp;'"


def test_arguments_are_escaped_as_format_html_escapes_them():
    made = html_format('<a href="{}" title="{}">{}</a>', HOSTILE, 5, HOSTILE)
    assert isinstance(made, SafeData)
    assert made == format_html('<a href="{}" title="{}">{}</a>', HOSTILE, 5, HOSTILE)
    assert "<script>" not in made


def test_safe_arguments_are_kept():
    inner = html_format("<b>{}</b>", "<i>")
    assert html_format("<p>{}</p>", inner) == "<p><b>&lt;i&gt;</b></p>"
    assert html_format("{}", mark_safe("<br>")) == "<br>"


def test_join_escapes_plain_parts_and_keeps_markup():
    joined = html_join([SafeString("<td>"), "<x>", SafeString("</td>")], "\n")
    assert joined == "<td>\n&lt;x&gt;\n</td>" and isinstance(joined, SafeData)
    assert html_text(HOSTILE) == format_html("{}", HOSTILE)


def test_the_builder_escapes_text_and_refuses_unsafe_markup():
    import pytest

    from dashboard.html_parts import HtmlBuilder

    builder = HtmlBuilder()
    builder.markup(SafeString("<td>"))
    builder.text(HOSTILE)
    builder.text(html_format("<b>{}</b>", "<i>"))  # safe already: kept
    builder.markup(mark_safe("</td>"))
    made = builder.html()
    assert isinstance(made, SafeData)
    assert made == format_html("<td>{}{}</td>", HOSTILE, mark_safe("<b>&lt;i&gt;</b>"))
    with pytest.raises(TypeError):
        builder.markup(HOSTILE)  # type: ignore[arg-type]  # a plain str is never trusted

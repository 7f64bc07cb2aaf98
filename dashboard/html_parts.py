"""HTML built in Python on hot paths, escaped the way `format_html` escapes it.

`html_format(template, *args)` is `django.utils.html.format_html` without its lazy-text
machinery: every argument is escaped unless it is already safe (`SafeData`, e.g. the result of
another `html_format`), and the result is safe. `html_join(parts)` is `format_html_join`'s
counterpart: safe parts are kept, anything else escaped. `HtmlBuilder` collects a long piece
(a list's rows) from markup, which must be safe already, and text, which it escapes, and joins
it once. A list page builds hundreds of cells with
them, where `format_html` (its `escape` goes through `keep_lazy`) cost a few microseconds each.
Never build HTML with an f-string passed through `mark_safe`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.utils.safestring import SafeData, SafeString


def _escaped(value: object) -> str:
    kind = type(value)
    if kind is str:  # the common case first: plain text, escaped
        return escape(value, quote=True)  # type: ignore[arg-type]  # a str, checked above
    if kind is SafeString:  # already markup (and a str: no copy)
        return value  # type: ignore[return-value]  # a SafeString, checked above
    if isinstance(value, SafeData):
        return str(value)
    return escape(str(value), quote=True)


def html_format(template: str, *args: object) -> SafeString:
    """Return `template.format(*args)` with every argument escaped unless already safe."""
    return SafeString(template.format(*[_escaped(arg) for arg in args]))


def html_join(parts: Iterable[object], separator: str = "") -> SafeString:
    """Return the parts joined, each escaped unless already safe (`separator` is markup)."""
    return SafeString(separator.join([_escaped(part) for part in parts]))


def html_text(value: object) -> SafeString:
    """Return `value` escaped as safe text (kept as it is when already safe)."""
    return SafeString(_escaped(value))


class HtmlBuilder:
    """Collects HTML from markup (safe already: `html_format`'s, a SafeString constant) and
    text (escaped here); `html()` joins it once. For hundreds of small pieces, where joining
    each row with `html_join` cost more than escaping."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[str] = []

    def markup(self, html: SafeData) -> None:
        """Add markup that is safe already (anything else is refused, never trusted)."""
        if not isinstance(html, SafeData):
            raise TypeError("markup must be safe (html_format, html_join or a SafeString)")
        self._parts.append(str(html) if type(html) is not SafeString else html)

    def text(self, value: object) -> None:
        """Add `value` as text: escaped (kept as it is when already safe)."""
        self._parts.append(_escaped(value))

    def html(self) -> SafeString:
        return SafeString("".join(self._parts))

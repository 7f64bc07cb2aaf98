"""Breadcrumbs that end with the page's own name: `{% breadcrumbs url "Branches" current=… %}`.

The arguments are (url, label) pairs from the section down to the page's parent, given one by
one or as `trail=` a list of pairs; `current` names the page itself, marked
`aria-current="page"`. Take a URL with `{% url … as name %}`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.template import TemplateSyntaxError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def breadcrumbs(
    *flat: object, current: object, trail: Iterable[tuple[object, object]] = ()
) -> SafeString:
    """Return the breadcrumb navigation: a link per (url, label) pair, then the page's name."""
    if len(flat) % 2:
        raise TemplateSyntaxError("breadcrumbs takes (url, label) pairs, then current=…")
    pairs = [*zip(flat[::2], flat[1::2], strict=True), *trail]
    separator = '<span aria-hidden="true">\u203a</span> '  # a single right-pointing angle
    links = format_html_join("", '<a href="{}">{}</a> ' + separator, pairs)
    return format_html(
        '<nav class="crumbs" aria-label="Breadcrumb">{}<span aria-current="page">{}</span></nav>',
        links,
        current,
    )

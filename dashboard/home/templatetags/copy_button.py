"""The copy button: `{% copy_button "upgrade-sql" what="the upgrade SQL" %}`.

It copies the text of the element whose id is its arguments joined by "-" (so a loop can say
`{% copy_button "drop" forloop.counter what="…" %}` for `id="drop-{{ forloop.counter }}"`).
static/js/copy.js, loaded by base.html, does the copying: no inline script (CSP).
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def copy_button(*parts: object, what: str) -> SafeString:
    """Return a button copying the text of the element with id `parts` joined by '-'."""
    target = "-".join(str(part) for part in parts)
    return format_html(
        '<button type="button" class="copy" data-copy="{}" aria-label="Copy {}" '
        'title="Copy {} to the clipboard">Copy</button>',
        target,
        what,
        what,
    )

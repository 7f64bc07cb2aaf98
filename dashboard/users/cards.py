"""The card of a linked table whose rows the user page has not read yet.

A user linked through hundreds of tables gets hundreds of such cards (their counts come from
the one counting statement; their rows load when opened), so they are built here with the
format_html-style helpers rather than by the template, which took most of the page's time for
them. A card that is opened is replaced by the full card the template renders (`?table=`).
"""

from __future__ import annotations

from django.utils.http import urlencode
from django.utils.safestring import SafeString

from dashboard.home.templatetags.copy_button import copy_button
from dashboard.html_parts import html_format, html_join
from dashboard.users.footprint import TableFootprint

USER_LINKS_BADGE = SafeString(' <span class="badge">USER_LINKS</span>')


def _path_text(item: TableFootprint) -> str:
    path = item.ownership.path
    if path.is_direct:
        return "direct"
    between = path.hops - 1
    return f"through {between} table{'s' if between != 1 else ''}"


def deferred_card(item: TableFootprint, page_url: str, eager_cards: int) -> SafeString:
    """Return the card of `item`: its count, path and owner-index warnings, and the button that
    loads its rows from `page_url` (the user page; the same request as the full card's
    Refresh)."""
    card_url = f"{page_url}?{urlencode({'table': item.table})}"
    path = item.ownership.path
    browse = (
        html_format('<a class="button small" href="{}">Open in Data browser</a>', item.browse_url)
        if item.browse_url
        else ""
    )
    warnings = html_join(
        html_format(
            '<div class="notice warn small">No index starts with <span class="mono">{}.{}</span>: '
            "finding this user's rows (and deleting the user) scans the table. "
            '<code class="mono" id="owner-index-{}-{}" data-suggested-sql>{};</code> {}</div>',
            missing.link.child,
            missing.link.child_column,
            item.table,
            number,
            missing.create_sql,
            copy_button("owner-index", item.table, number, what="the CREATE INDEX statement"),
        )
        for number, missing in enumerate(item.unindexed, start=1)
    )
    return html_format(
        '<section class="card table-card" id="table-{}"><header class="table-card-head">'
        '<h2 class="mono">{}</h2> <span class="badge{}" data-count="{}">{} row{}</span> '
        '<span class="path" title="{}">{}: <span class="mono">{}</span>{}</span> '
        '<span class="spacer"></span> {}</header>{}'
        '<p class="muted small deferred-rows">Rows not read yet: this page reads the first rows '
        "of {} table{} at once. "
        '<button type="button" class="small" hx-get="{}" hx-target="#table-{}" '
        'hx-swap="outerHTML">Show the first rows</button></p></section>',
        item.table,
        item.table,
        " warn" if item.count_timed_out else "",
        "" if item.count is None else item.count,
        item.count_text,
        "" if item.count == 1 else "s",
        path.detail,
        _path_text(item),
        path.detail,
        USER_LINKS_BADGE if path.uses_setting else "",
        browse,
        warnings,
        eager_cards,
        "" if eager_cards == 1 else "s",
        card_url,
        item.table,
    )

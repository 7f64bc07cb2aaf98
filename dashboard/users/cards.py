"""The card of a linked table whose rows the user page has not read yet.

A user linked through hundreds of tables gets hundreds of such cards (their counts come from
the one counting statement; their rows load when opened), so they are built here with the
format_html-style helpers rather than by the template, which took most of the page's time for
them. A card that is opened is replaced by the full card the template renders (`?table=`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.http import urlencode
from django.utils.safestring import SafeString

from dashboard.home.templatetags.copy_button import copy_button
from dashboard.html_parts import html_format, html_join
from dashboard.users.footprint import Footprint, TableFootprint
from dashboard.users.ownership import OwnershipMap

NO_HTML = SafeString("")
USER_LINKS_BADGE = SafeString(' <span class="badge">USER_LINKS</span>')


def _path_text(item: TableFootprint) -> str:
    path = item.ownership.path
    if path.is_direct:
        return "direct"
    between = path.hops - 1
    return f"through {between} table{'s' if between != 1 else ''}"


def _static_parts(item: TableFootprint, memo: dict[object, object]) -> tuple[SafeString, ...]:
    """Return what a card shows of its table whatever the user (its path and the owner
    indexes it lacks), worked out once per ownership map (`memo`)."""
    key = ("card", item.table)
    made = memo.get(key)
    if made is None:
        path = item.ownership.path
        path_html = html_format(
            '<span class="path" title="{}">{}: <span class="mono">{}</span>{}</span>',
            path.detail,
            _path_text(item),
            path.detail,
            USER_LINKS_BADGE if path.uses_setting else "",
        )
        warnings = html_join(
            html_format(
                '<div class="notice warn small">No index starts with '
                '<span class="mono">{}.{}</span>: finding this user\'s rows (and deleting the '
                "user) scans the table. "
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
        made = memo[key] = (path_html, warnings)
    return made  # type: ignore[return-value]  # what this function stored


def deferred_card(
    item: TableFootprint,
    page_url: str,
    eager_cards: int,
    memo: dict[object, object] | None = None,
) -> SafeString:
    """Return the card of `item`: its count, path and owner-index warnings, and the button that
    loads its rows from `page_url` (the user page; the same request as the full card's
    Refresh). `memo` keeps what does not depend on the user (the ownership map's)."""
    card_url = f"{page_url}?{urlencode({'table': item.table})}"
    browse = (
        html_format('<a class="button small" href="{}">Open in Data browser</a>', item.browse_url)
        if item.browse_url
        else ""
    )
    path_html, warnings = _static_parts(item, {} if memo is None else memo)
    return html_format(
        '<section class="card table-card" id="table-{}"><header class="table-card-head">'
        '<h2 class="mono">{}</h2> <span class="badge{}" data-count="{}">{} row{}</span> '
        '{} <span class="spacer"></span> {}</header>{}'
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
        path_html,
        browse,
        warnings,
        eager_cards,
        "" if eager_cards == 1 else "s",
        card_url,
        item.table,
    )


@dataclass
class CardBlock:
    """A stretch of the user page's cards: one the template renders (`item`, its rows were
    read), or consecutive deferred cards already built (`html`)."""

    item: TableFootprint | None = None
    html: SafeString = NO_HTML


def card_blocks(
    footprint: Footprint,
    page_url: str,
    eager_cards: int,
    memo: dict[object, object] | None = None,
) -> list[CardBlock]:
    """Return the cards of the linked tables with rows, in order: deferred ones built here and
    joined (a template loop over hundreds of them took most of the page's rendering)."""
    blocks: list[CardBlock] = []
    deferred: list[SafeString] = []
    for item in footprint.linked_with_rows:
        if item.rows_deferred:
            deferred.append(deferred_card(item, page_url, eager_cards, memo))
            continue
        if deferred:
            blocks.append(CardBlock(html=html_join(deferred, "\n")))
            deferred = []
        blocks.append(CardBlock(item=item))
    if deferred:
        blocks.append(CardBlock(html=html_join(deferred, "\n")))
    return blocks


def summary_chips(footprint: Footprint) -> SafeString:
    """Return the summary's link to each linked table with rows, with its count."""
    return html_join(
        html_format(
            '<a class="chip" href="#table-{}"><span class="mono">{}</span> <strong>{}</strong></a>',
            item.table,
            item.table,
            item.count_text,
        )
        for item in footprint.linked_with_rows
    )


def unlinked_text(owners: OwnershipMap) -> SafeString:
    """Return the tables not linked to the users table, comma-separated (once per map)."""
    key = ("unlinked_text",)
    made = owners.statements.get(key)
    if made is None:
        made = owners.statements[key] = html_join(owners.unlinked, ", ")
    return made  # type: ignore[return-value]  # what this function stored

"""The query object: keyset pages match Postgres' own order, filters match SQL, links keep state."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict

from dashboard.data.filters import OP_LABELS
from dashboard.data.query import ListQuery, Restriction
from dashboard.data.services import list_page
from dashboard.schema.reflection import table_named
from tests.dashboard.data.conftest import ITEMS, owner_execute

pytestmark = pytest.mark.django_db


def query_of(url: str) -> QueryDict:
    return QueryDict(urlsplit(url).query)


def row_keys(page, *names: str) -> list[tuple[str, ...]]:
    keys = []
    for row in page.rows:
        params = parse_qs(urlsplit(row.url).query)
        keys.append(tuple(params[f"pk.{name}"][0] for name in names))
    return keys


def ids(sql: str) -> list[tuple[str]]:
    """Return the rows of a one-column query as 1-tuples of text (as row links carry them)."""
    return [(str(value),) for (value,) in owner_execute(sql)]


def walk(table: str, params: str, *key: str):
    """Return the pages met following Next from the first page, then Previous back."""
    forward = [list_page(table, QueryDict(params))]
    while forward[-1].next_url:
        forward.append(list_page(table, query_of(forward[-1].next_url)))
        assert len(forward) < 50
    backward = [forward[-1]]
    while backward[-1].prev_url:
        backward.append(list_page(table, query_of(backward[-1].prev_url)))
        assert len(backward) < 50
    return (
        [row_keys(p, *key) for p in forward],
        [row_keys(p, *key) for p in reversed(backward)],
    )


@pytest.mark.parametrize(
    ("order", "sql_order"),
    [
        ("", "id"),
        ("-id", "id DESC"),
        ("ratio", "ratio NULLS LAST, id"),
        ("-ratio", "ratio DESC NULLS LAST, id DESC"),
        ("created_at", "created_at, id"),
        ("-created_at", "created_at DESC, id DESC"),
        ("due", "due NULLS LAST, id"),
        ("-mood", "mood DESC NULLS LAST, id DESC"),
        ("-title", "title DESC, id DESC"),
        ("uid", "uid, id"),
    ],
)
def test_keyset_pages_follow_postgres_order_both_ways(tables, order, sql_order):
    params = f"n=25&o={order}" if order else "n=25"
    forward, backward = walk("datab_items", params, "id")
    expected = [
        str(r[0]) for r in owner_execute(f"SELECT id FROM datab_items ORDER BY {sql_order}")
    ]
    assert [k[0] for page in forward for k in page] == expected
    assert [len(page) for page in forward] == [25] * (ITEMS // 25) + [ITEMS % 25]
    assert backward == forward  # Previous gives back exactly the same pages


def test_composite_key_pages(tables, settings):
    settings.DATA_PAGE_SIZE = 5
    forward, backward = walk("datab_members", "o=-role", "org_id", "user_uuid")
    expected = owner_execute(
        "SELECT org_id, user_uuid FROM datab_members "
        "ORDER BY role DESC, org_id DESC, user_uuid DESC"
    )
    assert [k for page in forward for k in page] == [(str(a), str(b)) for a, b in expected]
    assert backward == forward


def test_filtered_keyset_pages_keep_the_filter(tables):
    forward, _ = walk("datab_items", "n=25&o=-score&f.eq.status=open&f.null.due=notnull", "id")
    expected = ids(
        "SELECT id FROM datab_items WHERE status = 'open' AND due IS NOT NULL "
        "ORDER BY score DESC NULLS LAST, id DESC"
    )
    assert [k for page in forward for k in page] == expected
    assert len(forward) > 1


FILTERS = [
    ("f.contains.title=100%25", "title ILIKE '%100\\%%'"),
    ("f.contains.title=done_1", "title ILIKE '%done\\_1%'"),
    ("f.prefix.title=item 00", "title ILIKE 'item 00%'"),
    ("f.eq.title=Item 007", "title = 'Item 007'"),
    ("f.gte.score=10&f.lte.score=20.5", "score BETWEEN 10 AND 20.5"),
    ("f.eq.id=17", "id = 17"),
    ("f.gte.created_at=2025-02-02&f.lte.created_at=2025-02-02", "created_at::date = '2025-02-02'"),
    ("f.lte.created_at=2025-02-01 10:00", "created_at <= '2025-02-01 10:00+00'"),
    ("f.gte.due=2025-03-10&f.lte.due=2025-03-12", "due BETWEEN '2025-03-10' AND '2025-03-12'"),
    ("f.eq.due=2025-03-10", "due = '2025-03-10'"),
    ("f.null.due=null", "due IS NULL"),
    ("f.null.mood=notnull", "mood IS NOT NULL"),
    ("f.eq.mood=calm", "mood = 'calm'"),
    ("f.eq.status=archived", "status = 'archived'"),
    ("f.eq.done=true", "done"),
    ("f.has.tags=red", "'red' = ANY (tags)"),
    ("f.eq.uid=" + "9d8a8b4d-0000-0000-0000-000000000000", "false"),
    ("f.eq.owner_id=owner_3", "owner_id = 'owner_3'"),
    (
        "q=body 1",
        "title ILIKE '%body 1%' OR body ILIKE '%body 1%' OR owner_id ILIKE '%body 1%' "
        "OR status ILIKE '%body 1%'",
    ),
    ("q=REPORT&in=title", "title ILIKE '%report%'"),
]


@pytest.mark.parametrize(("params", "where"), FILTERS)
def test_filters_select_what_sql_selects(tables, params, where):
    page = list_page("datab_items", QueryDict(f"n=200&{params}"))
    assert not page.query.filters.errors and not page.query.notices
    expected = ids(f"SELECT id FROM datab_items WHERE {where} ORDER BY id")
    assert row_keys(page, "id") == expected
    assert page.exact_count == len(expected)  # a single page: counted for free


def test_uuid_equality_finds_the_row(tables):
    (uid,) = owner_execute("SELECT uid::text FROM datab_items WHERE id = 33")[0]
    page = list_page("datab_items", QueryDict(f"f.eq.uid={uid.upper()}"))
    assert row_keys(page, "id") == [("33",)]


def test_a_bad_value_shows_no_rows_and_says_why(tables):
    """An invalid filter never widens the list silently to every row (or every other filter's
    rows): nothing is shown until it is fixed or removed, and the page says which one."""
    page = list_page("datab_items", QueryDict("n=200&f.eq.status=open&f.gte.score=ten"))
    assert page.query.filters.errors == {"f.gte.score": "Enter a number, like 3.14."}
    assert page.rows == [] and not page.has_next
    assert page.invalid_filters == ["score from “ten”: Enter a number, like 3.14."]
    # The way out: the same list without the invalid filter, the valid ones kept.
    kept = parse_qs(urlsplit(page.first_url).query)
    assert kept == {"f.eq.status": ["open"], "n": ["200"]}


def test_an_unknown_filter_operation_shows_no_rows(tables):
    page = list_page("datab_items", QueryDict("f.zz.title=a"))
    assert page.rows == []
    assert page.invalid_filters == [
        "“zz” is not a filter; use one of " + ", ".join(OP_LABELS) + "."
    ]


def test_filter_operations_a_column_does_not_have_are_reported(tables):
    page = list_page("datab_items", QueryDict("f.gte.title=a&f.eq.meta=x&f.zz.id=1"))
    assert len(page.query.filters.general_errors) == 3
    assert not page.query.filters.active


def test_links_keep_columns_filters_search_order_and_size(tables):
    params = "c=title&c=id&o=-score&f.eq.status=open&q=item&in=title&n=25"
    page = list_page("datab_items", QueryDict(params))
    query = page.query
    assert query.shown == ["title", "id"]
    for url in (page.next_url, query.sort_url("title"), query.size_url(100), query.export_url()):
        kept = parse_qs(urlsplit(url).query)
        assert kept["c"] == ["title", "id"]
        assert kept["f.eq.status"] == ["open"] and kept["q"] == ["item"]
        assert kept["in"] == ["title"]
    assert parse_qs(urlsplit(query.sort_url("title")).query)["o"] == ["title"]
    assert parse_qs(urlsplit(query.sort_url("score")).query)["o"] == ["score"]  # flips
    assert "cursor" not in query.sort_url("title")  # a new order starts at the first page
    removed = parse_qs(urlsplit(page.chips[0][1]).query)
    assert "f.eq.status" not in removed and removed["q"] == ["item"]


def test_restriction_is_applied_and_kept_in_every_link(tables):
    table = table_named("datab_items")
    restriction = Restriction(
        where=(table.c.owner_id == "owner_2",),
        params=(("scope", "owner_2"),),
        banner="Only the rows of owner_2",
    )
    page = list_page("datab_items", QueryDict("n=25&f.lte.id=128"), restriction=restriction)
    expected = ids(
        "SELECT id FROM datab_items WHERE owner_id = 'owner_2' AND id <= 128 ORDER BY id"
    )
    assert len(expected) > 25
    assert row_keys(page, "id") == expected[:25]
    query = page.query
    assert query.filtered
    for url in (page.next_url, query.sort_url("title"), query.clear_url(), query.export_url()):
        assert urlsplit(url).query.startswith("scope=owner_2")
    assert ("scope", "owner_2") in query.hidden_inputs()


def test_tables_without_a_primary_key_page_by_bounded_offset(tables, settings):
    settings.DATA_OFFSET_MAX_ROWS = 50
    page = list_page("datab_logs", QueryDict("n=25"))
    assert page.offset_paging and page.next_url.endswith("page=2")
    second = list_page("datab_logs", query_of(page.next_url))
    assert second.page_number == 2 and not second.next_url  # stops at the bound
    too_far = list_page("datab_logs", QueryDict("n=25&page=3"))
    assert "too deep" in too_far.query.notices[0] and too_far.query.position.first


def test_sorted_offset_pages_of_a_table_without_key(tables):
    page = list_page("datab_logs", QueryDict("n=25&o=-at&page=2"))
    expected = owner_execute("SELECT message FROM datab_logs ORDER BY at DESC OFFSET 25 LIMIT 25")
    assert [row.cells[2].text for row in page.rows] == [m for (m,) in expected]


def test_secret_looking_key_makes_a_table_keyless(tables):
    query = ListQuery(table_named("datab_tokens"), QueryDict())
    assert not query.keyset and query.order.column is None
    assert query.infos["token"].masked


def test_a_hidden_primary_key_still_pages_and_links_rows(tables, admin_client, settings, tmp_path):
    """Display settings may hide the key column (the row page parses hidden keys): the list
    still pages by it and links its rows, and a row page lists such children, without it
    shown. Looking up whether the hidden sort column was nullable among the shown columns'
    descriptions was a KeyError: a 500 on the list and on every parent's row page."""
    path = tmp_path / "display.toml"
    path.write_text('[tables.datab_items]\nhidden_columns = ["id"]\n')
    settings.DATA_DISPLAY_FILE = str(path)
    first = admin_client.get("/data/datab_items/?n=25")
    assert first.status_code == 200
    page = first.context["page"]
    assert "id" not in page.query.shown and row_keys(page, "id") == ids(
        "SELECT id FROM datab_items ORDER BY id LIMIT 25"
    )
    second = admin_client.get(page.next_url)
    assert second.status_code == 200
    assert row_keys(second.context["page"], "id") == ids(
        "SELECT id FROM datab_items ORDER BY id LIMIT 25 OFFSET 25"
    )
    assert admin_client.get(page.rows[0].url).status_code == 200
    parent = admin_client.get("/data/datab_owners/row/?pk.id=owner_1")
    assert parent.status_code == 200
    assert "/data/datab_items/row/?pk.id=" in parent.content.decode()


@pytest.mark.parametrize(
    ("key_type", "key_value"),
    [
        ("inet", "('10.0.' || n / 256 || '.' || n % 256)::inet"),
        ("jsonb", "jsonb_build_object('n', n)"),
        ("integer[]", "ARRAY[n, n + 1]"),
        ("interval", "n * interval '1 hour'"),
        ("bytea", "decode(md5(n::text), 'hex')"),
    ],
)
def test_a_key_a_link_cannot_carry_pages_by_number_without_row_links(
    tables, admin_client, key_type, key_value
):
    """Keys of these types cannot be written in a row link and read back (and inet, jsonb or
    array values not in a cursor either: the second page of such a list was a 500): the table
    is browsed like one without a key, by page number, rather than with broken links."""
    owner_execute(
        f"CREATE TABLE datab_odd_keys (k {key_type} PRIMARY KEY, note text NOT NULL);"
        f"INSERT INTO datab_odd_keys SELECT {key_value}, 'note ' || n FROM generate_series(1, 60) n"
    )
    try:
        first = admin_client.get("/data/datab_odd_keys/?n=25")
        assert first.status_code == 200
        page = first.context["page"]
        assert not page.query.keyset and page.offset_paging
        assert len(page.rows) == 25 and all(row.url == "" for row in page.rows)
        assert "/data/datab_odd_keys/row/" not in first.content.decode()
        second = admin_client.get(page.next_url)
        assert second.status_code == 200 and second.context["page"].page_number == 2
        notes = [row.cells[-1].text for row in second.context["page"].rows]
        assert notes == [f"note {n}" for n in range(26, 51)]
        row_page = admin_client.get("/data/datab_odd_keys/row/?pk.k=1")
        assert row_page.status_code == 404
        assert "secret-looking" not in row_page.content.decode()
        assert "cannot be opened one by one" in row_page.content.decode()
    finally:
        owner_execute("DROP TABLE datab_odd_keys")


def test_page_statement_reads_limit_plus_one_and_the_estimate(tables):
    query = ListQuery(table_named("datab_items"), QueryDict("n=25"))
    sql = str(query.page_statement().compile())
    assert "LIMIT" in sql and "pg_catalog.pg_class" in sql
    assert query.page_statement()._limit == 26


def test_an_unnarrowed_list_reuses_its_statement_a_narrowed_one_does_not(tables):
    from dashboard.data.display import TableDisplay

    table = table_named("datab_items")

    def statement(params: str, **kwargs):
        return ListQuery(table, QueryDict(params), **kwargs).page_statement()

    # Nothing of the request is in it: made once for the table and the list's shape.
    assert statement("n=25") is statement("n=25")
    assert statement("n=25&page=2") is statement("n=25&page=2")
    # Another shape, other display settings: another statement.
    assert statement("n=25") is not statement("n=50")
    assert statement("n=25&o=-id") is not statement("n=25")
    masked = TableDisplay(hidden_columns=("title",))
    assert statement("n=25", display=masked) is not statement("n=25")
    assert "title" not in str(statement("n=25", display=masked).compile())
    # Values of the request (a filter, a search, a cursor, a restriction) are never reused.
    assert statement("f.gte.score=3") is not statement("f.gte.score=3")
    assert statement("q=item") is not statement("q=item")
    scoped = Restriction(where=(table.c.score >= 3,))
    assert statement("", restriction=scoped) is not statement("", restriction=scoped)
    assert "score" in str(statement("", restriction=scoped).compile())
    first = list_page("datab_items", QueryDict("n=25"))
    follow = query_of(first.next_url)
    assert statement(follow.urlencode()) is not statement(follow.urlencode())


def test_the_statements_kept_are_bounded_over_all_tables(tables, monkeypatch):
    """Each table kept up to 256 list shapes (~16 KB each): requesting many shapes of every
    table of a large schema grew the process without bound but the number of tables."""
    from dashboard.data import query as query_module

    monkeypatch.setattr(query_module, "STATEMENTS_KEPT", 8)
    monkeypatch.setattr(query_module, "STATEMENTS_KEPT_IN_ALL", 12, raising=False)
    names = ["datab_items", "datab_owners", "datab_members", "datab_orgs", "datab_logs"]
    for name in names:
        for page in range(1, 8):
            ListQuery(table_named(name), QueryDict(f"page={page}")).page_statement()
    made = [table_named(name).info[query_module.STATEMENTS] for name in names]
    kept = sum(len(getattr(statements, "by_shape", statements)) for statements in made)
    assert 0 < kept <= 12
    again = ListQuery(table_named("datab_logs"), QueryDict("page=7"))
    assert again.page_statement() is again.page_statement()  # still reused


def test_after_alter_table_a_list_follows_the_new_columns(tables, admin_client):
    """The statement and the empty filter form kept for a list shape belong to one reflection:
    after a column is renamed to a secret-looking name, changes type, or is dropped, the same
    URL masks it, reads it by its new type, or leaves it out."""
    owner_execute(
        "CREATE TABLE datab_altered (id integer PRIMARY KEY, note text, label text);"
        "INSERT INTO datab_altered VALUES (1, 'plain note', 'a label')"
    )
    url = "/data/datab_altered/?c=id&c=label"
    try:
        before = admin_client.get("/data/datab_altered/").content.decode()
        assert "plain note" in before and 'name="f.contains.label"' in before
        assert "a label" in admin_client.get(url).content.decode()
        owner_execute("ALTER TABLE datab_altered RENAME note TO api_token")
        renamed = admin_client.get("/data/datab_altered/").content.decode()
        assert "plain note" not in renamed and "masked" in renamed
        owner_execute("ALTER TABLE datab_altered ALTER label TYPE bytea USING label::bytea")
        retyped = admin_client.get(url)
        assert retyped.status_code == 200
        assert "7 bytes" in retyped.content.decode() and "a label" not in retyped.content.decode()
        assert 'name="f.contains.label"' not in retyped.content.decode()
        owner_execute("ALTER TABLE datab_altered DROP COLUMN label")
        dropped = admin_client.get("/data/datab_altered/")
        assert dropped.status_code == 200
        assert 'data-column="label"' not in dropped.content.decode()
    finally:
        owner_execute("DROP TABLE datab_altered")


def test_an_empty_filter_form_is_built_once_a_filled_one_each_time(tables):
    table = table_named("datab_items")

    def grid(params: str):
        return ListQuery(table, QueryDict(params)).filters.grid_html

    assert grid("") is grid("n=25&o=-id")  # nothing typed in: the same form
    filled = grid("f.gte.score=3")
    assert filled is not grid("f.gte.score=3") and 'value="3"' in filled
    refused = grid("f.gte.score=many")
    assert 'value="many"' in refused and "aria-invalid" in refused
    assert 'value="3"' not in grid("") and "aria-invalid" not in grid("")


# -- where a page is, and the way back to it -----------------------------------------------------
def test_later_pages_say_which_rows_they_show(tables):
    """Keyset pages carry their position in the signed cursor: "rows 26 to 50", page 2, and the
    same numbers coming back with Previous."""
    first = list_page("datab_items", QueryDict("n=25&o=-score"))
    assert (first.first_row, first.last_row, first.page_number) == (1, 25, 1)
    second = list_page("datab_items", query_of(first.next_url))
    assert (second.first_row, second.last_row, second.page_number) == (26, 50, 2)
    third = list_page("datab_items", query_of(second.next_url))
    assert (third.first_row, third.page_number) == (51, 3)
    back = list_page("datab_items", query_of(third.prev_url))
    assert (back.first_row, back.last_row, back.page_number) == (26, 50, 2)
    assert row_keys(back, "id") == row_keys(second, "id")
    top = list_page("datab_items", query_of(back.prev_url))
    assert (top.first_row, top.page_number) == (1, 1) and not top.has_prev


def test_a_cursor_without_a_position_still_pages(tables):
    """A link made before positions were kept still works; the page only says nothing of where."""
    from dashboard.data.cursor import encode_cursor

    token = encode_cursor("datab_items", "id", "next", [25])
    page = list_page("datab_items", QueryDict(f"n=25&cursor={token}"))
    assert row_keys(page, "id")[0] == ("26",)
    assert page.first_row is None and page.page_number is None


def test_a_row_link_leads_back_to_the_very_list_page(tables):
    from dashboard.data.rows import back_to_list

    params = "n=25&o=-score&f.eq.status=open&q=item"
    first = list_page("datab_items", QueryDict(params))
    second = list_page("datab_items", query_of(first.next_url))
    row_link = query_of(second.rows[0].url)
    back = query_of(back_to_list(second.query, row_link))
    assert back.dict() == query_of(first.next_url).dict()  # filters, order, search and page


def test_a_back_link_never_leaves_the_scope_of_the_row(tables):
    from dashboard.data.rows import back_to_list

    table = table_named("datab_items")
    restriction = Restriction(
        where=(table.c.owner_id == "owner_2",), params=(("scope", "owner_2"),)
    )
    query = ListQuery(table, QueryDict(), restriction=restriction)
    forged = QueryDict("pk.id=2&back=" + "scope%3Downer_9%26f.eq.status%3Dopen")
    back = query_of(back_to_list(query, forged))
    assert back.getlist("scope") == ["owner_2"] and back["f.eq.status"] == "open"
    assert urlsplit(back_to_list(query, forged)).path == "/data/datab_items/"


def test_default_columns_are_those_that_fit(tables):
    """By default a list shows the key and then the columns that fit a wide screen, in table
    order; the chooser keeps every column."""
    table = table_named("datab_items")
    narrow = ListQuery(table, QueryDict(), width_budget=64)
    assert narrow.shown[0] == "id"
    assert sum(narrow.infos[name].width for name in narrow.shown) <= 64
    assert len(narrow.shown) < len(narrow.infos)
    # A column too wide for what is left is passed over; a narrower one after it still fits.
    assert narrow.shown == ["id", "owner_id", "status", "mood"]
    assert "uid" in narrow.infos  # still offered by the column chooser
    wide = ListQuery(table, QueryDict(), width_budget=10_000)
    assert wide.shown == list(wide.infos)[:12]


# -- PostgreSQL's 'infinity' and '-infinity' in dates and timestamps ------------------------------
@pytest.mark.parametrize(
    ("order", "sql_order"),
    [
        ("starts", "starts NULLS LAST, id"),
        ("-starts", "starts DESC NULLS LAST, id DESC"),
        ("ends", "ends NULLS LAST, id"),
        ("-ends", "ends DESC NULLS LAST, id DESC"),
        ("at", "at NULLS LAST, id"),
        ("-at", "at DESC NULLS LAST, id DESC"),
    ],
)
def test_keyset_pages_sorted_by_a_column_holding_infinity_cover_every_row_once(
    tables, infinite_table, settings, order, sql_order
):
    """A cursor holding ±infinity resumes right after its row, both ways: ties on infinity
    and a real 9999-12-31 next to date 'infinity' fall across page boundaries (2 per page)."""
    settings.DATA_PAGE_SIZE = 2
    forward, backward = walk(infinite_table, f"o={order}", "id")
    expected = ids(f"SELECT id FROM {infinite_table} ORDER BY {sql_order}")
    assert [k for page in forward for k in page] == expected
    assert len(forward) == 5
    assert backward == forward


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ("f.gte.starts=2025-01-01", "starts >= '2025-01-01 00:00'::timestamptz"),
        ("f.lte.starts=2025-03-01", "starts < '2025-03-02 00:00'::timestamptz"),
        ("f.lte.ends=2025-01-01", "ends <= '2025-01-01'"),
        (
            "f.gte.ends=2025-01-01&f.lte.ends=9999-12-30",
            "ends BETWEEN '2025-01-01' AND '9999-12-30'",
        ),
        ("f.eq.ends=infinity", "ends = 'infinity'"),
        ("f.eq.ends=-infinity", "ends = '-infinity'"),
        ("f.gte.at=infinity", "at >= 'infinity'"),
        ("f.lte.starts=-infinity", "starts <= '-infinity'"),
        ("f.null.ends=notnull&f.gte.at=2025-01-01", "ends IS NOT NULL AND at >= '2025-01-01'"),
    ],
)
def test_filters_on_a_column_holding_infinity(tables, infinite_table, params, where):
    """Filters keep working on such columns, and may name 'infinity' / '-infinity' too."""
    page = list_page(infinite_table, QueryDict(f"n=25&o=starts&{params}"))
    assert not page.error and not page.query.filters.errors
    expected = ids(f"SELECT id FROM {infinite_table} WHERE {where} ORDER BY starts NULLS LAST, id")
    assert row_keys(page, "id") == expected
    assert expected  # each filter finds rows

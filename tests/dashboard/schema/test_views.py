"""Schema pages over HTTP: list (full page and htmx partial), table pages, diagrams, failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.urls import NoReverseMatch, reverse
from psycopg import sql

from dashboard.schema import catalog, reflection, services
from dashboard.schema.diagrams import forget_drawings
from dashboard.target import run_read
from tests.dashboard.schema.builders import (
    MANY_TABLES,
    SCRIPT_COLUMN,
    SCRIPT_TABLE,
    owner_url,
    run_in_schema,
)
from tests.dashboard.target_statements import (
    LOCK_NOT_AVAILABLE,
    page_statements,
    target_statements,
)

pytestmark = pytest.mark.django_db


def page(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def recorded_calls(monkeypatch, module, name: str) -> list[tuple]:
    """Replace `module.name(conn, schema, ...)` by a spy that still calls it; return the list of
    the arguments after (conn, schema) of each call."""
    calls: list[tuple] = []
    real = getattr(module, name)

    def spy(conn, schema, *args):
        calls.append(args)
        return real(conn, schema, *args)

    monkeypatch.setattr(module, name, spy)
    return calls


def table_url(name: str) -> str:
    return reverse("schema:table", kwargs={"name": name})


@contextmanager
def locked(schema: str, table: str) -> Iterator[None]:
    """Hold an ACCESS EXCLUSIVE lock on the table, as a long ALTER TABLE would."""
    with psycopg.connect(owner_url()) as conn:
        conn.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(schema, table))
        )
        try:
            yield
        finally:
            conn.rollback()


# ---- the table list -------------------------------------------------------------------------


def test_list_shows_every_table_with_estimates_sizes_and_rls(viewer_client, in_variety):
    html = page(viewer_client, "/schema/")
    for name in ("user", "order", "order_line", "line_note", "event_log", "country"):
        assert f'href="{table_url(name)}"' in html
    assert "unknown" in html  # event_log was never analyzed
    assert "~25" in html  # "user" was analyzed with 25 rows
    assert "forced" in html  # "order" forces row-level security
    assert "People who sign in" in html
    assert 'id="sizes-notice"' not in html
    assert "7 tables" in html


def test_names_that_are_markup_are_escaped(viewer_client, in_variety):
    html = page(viewer_client, "/schema/")
    assert SCRIPT_TABLE not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    detail = page(viewer_client, table_url(SCRIPT_TABLE))
    assert SCRIPT_TABLE not in detail and SCRIPT_COLUMN not in detail
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail


def test_htmx_filter_returns_only_the_list_part(viewer_client, in_variety, htmx_headers):
    html = page(viewer_client, "/schema/?q=ord", **htmx_headers)
    assert html.lstrip().startswith('<div id="table-list">')
    assert "<html" not in html and "The database differs" not in html
    assert f'href="{table_url("order")}"' in html
    assert f'href="{table_url("order_line")}"' in html
    assert f'href="{table_url("country")}"' not in html
    assert "2 tables matching “ord”" in html


def test_filter_works_without_javascript_and_keeps_the_value(viewer_client, in_variety):
    html = page(viewer_client, "/schema/?q=sign+in")
    assert "<!doctype html>" in html
    assert 'value="sign in"' in html
    assert f'href="{table_url("user")}"' in html
    assert f'href="{table_url("order")}"' not in html


def test_filter_with_no_match_says_so(viewer_client, in_variety, htmx_headers):
    html = page(viewer_client, "/schema/?q=zzz", **htmx_headers)
    assert "has “zzz” in its name or comment" in html


def test_sort_by_rows_puts_the_biggest_estimate_first_and_bad_sort_falls_back(
    viewer_client, in_variety
):
    by_rows = page(viewer_client, "/schema/?sort=rows")
    assert by_rows.index(f'href="{table_url("user")}"') < by_rows.index(
        f'href="{table_url("country")}"'
    )
    by_name = page(viewer_client, "/schema/?sort=nonsense")
    assert by_name.index(f'href="{table_url("country")}"') < by_name.index(
        f'href="{table_url("user")}"'
    )


def test_hundreds_of_tables_are_listed_a_page_at_a_time(
    viewer_client, use_schema, many_schema, variety_schema
):
    # The list's cost is a fixed number of statements, whatever the number of tables.
    use_schema(variety_schema)
    page(viewer_client, "/schema/")  # the reflection is cached from here on
    with target_statements() as few:
        page(viewer_client, "/schema/")
    use_schema(many_schema)
    page(viewer_client, "/schema/")
    with target_statements() as many:
        html = page(viewer_client, "/schema/")
    # No statement per table: hundreds of tables need no more than the variety schema.
    assert len(many) <= len(few), many.sent
    assert f"{MANY_TABLES} tables" in html
    assert html.count('href="/schema/t') == services.TABLE_PAGE_SIZE
    assert f"Tables 1 to 100 of {MANY_TABLES} (page 1 of 3)" in html
    last = page(viewer_client, "/schema/?page=3&sort=name")
    assert f"Tables 201 to {MANY_TABLES} of {MANY_TABLES} (page 3 of 3)" in last
    assert 'href="/schema/t200/"' in last and 'href="/schema/t299/"' in last
    assert 'href="/schema/t199/"' not in last
    assert "?page=2&amp;sort=name" in last and "Next »" not in last
    assert page(viewer_client, "/schema/?page=99").count('href="/schema/t') == 100  # the last
    assert '<h1 class="mono table-name">t150</h1>' in page(viewer_client, table_url("t150"))
    diagram = page(viewer_client, reverse("schema:diagram"))
    assert diagram.count('class="erd-table"') == MANY_TABLES


def test_sizes_are_read_for_the_tables_shown_only(
    viewer_client, use_schema, many_schema, monkeypatch
):
    calls = recorded_calls(monkeypatch, catalog, "table_sizes")
    use_schema(many_schema)
    page(viewer_client, "/schema/?sort=rows&page=2")
    assert [len(names) for (names,) in calls] == [services.TABLE_PAGE_SIZE]
    calls.clear()
    page(viewer_client, "/schema/?sort=size")  # sorting by size needs every size
    assert [len(names) for (names,) in calls] == [MANY_TABLES]


# Statements a warm view sends (to the target, to the console's own database), as README's
# schema-scale table quotes them at 1,000 tables: the same here for 7 tables and for 300.
# The table page reads each of its ten parts in a read of its own (the set-up statement, then
# its catalog reads): the table's oid; sizes; definitions; facts; columns; keys; indexes;
# triggers; policies; the neighbourhood. The neighbourhood's SVG: the oid, the foreign keys in
# and out, and the neighbours' columns. The full diagram is drawn from the reflection alone.
# Django's: the session, the operator and the operator's groups.
SCALE_BUDGETS = {
    "/schema/{}/": (29, 3),
    "/schema/{}/erd.svg": (5, 3),
    "/schema/diagram": (0, 3),
}


@pytest.mark.parametrize("url", list(SCALE_BUDGETS))
def test_a_table_page_and_the_diagrams_send_as_many_statements_for_300_tables(
    viewer_client, settings, use_schema, variety_schema, many_schema, url
):
    counts = {}
    for schema, table in ((variety_schema, "order"), (many_schema, "t152")):
        settings.REFLECTION_CHECK_SECONDS = 0
        use_schema(schema)
        page(viewer_client, url.format(table))  # the schema reflected (and the diagram drawn)
        settings.REFLECTION_CHECK_SECONDS = 3600  # as in steady use: no catalog check due
        with page_statements() as (target, console):
            page(viewer_client, url.format(table))
        counts[schema] = (len(target), len(console))
    assert counts[variety_schema] == counts[many_schema] == SCALE_BUDGETS[url], counts


def test_a_bad_page_number_is_a_400_with_a_sentence(viewer_client, in_variety):
    response = viewer_client.get("/schema/?page=two")
    assert response.status_code == 400
    assert "page" in response.content.decode()


def test_sort_by_size_follows_the_real_sizes(viewer_client, in_variety):
    sizes = run_read(lambda c: catalog.table_sizes(c, in_variety, ["user", "event_log"]))
    assert sizes["user"]["total_bytes"] > sizes["event_log"]["total_bytes"]
    html = page(viewer_client, "/schema/?sort=size")
    assert html.index(f'href="{table_url("user")}"') < html.index(
        f'href="{table_url("event_log")}"'
    )
    assert 'class="num" aria-sort="descending"><a href="?sort=size">Total size</a>' in html


def test_htmx_history_restore_gets_the_full_page(viewer_client, in_variety, htmx_headers):
    html = page(
        viewer_client, "/schema/?q=ord", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **htmx_headers
    )
    assert "<!doctype html>" in html and 'id="table-list"' in html


def test_browse_data_links_appear_for_those_who_may_read_rows(
    viewer_client, support_client, in_variety
):
    html = page(support_client, "/schema/")
    try:
        data_url = reverse("data:list", kwargs={"table": "order_line"})
    except NoReverseMatch:
        assert "Browse data" not in html  # no dead links before the Data section exists
    else:
        assert f'<a href="{data_url}">Browse data</a>' in html
    # Rows need the support role: viewers get no link that would answer 403.
    assert "Browse data" not in page(viewer_client, "/schema/")


# ---- one table ------------------------------------------------------------------------------


def test_table_page_for_a_keyword_named_table(viewer_client, in_variety):
    html = page(viewer_client, table_url("order"))
    # columns, identity, generated, mixed case
    for text in ("user_id", "Status", "identity always", "(quantity * 2)", "numeric(10,2)"):
        assert text in html, text
    # keys both ways, with links
    assert f'<a href="{table_url("user")}">user</a>(id)' in html
    assert f'<a href="{table_url("order_line")}">order_line</a>' in html
    assert "CHECK (total &gt;= 0" in html
    # indexes, triggers, policies
    assert "CREATE INDEX order_user_id_idx ON" in html
    assert "order_touch" in html and "BEFORE UPDATE" in html
    assert "order_owner_reads" in html and "todo_app" in html
    assert "current_setting(&#x27;app.user_id&#x27;::text)" in html
    assert "<strong>forced</strong>" in html
    # the neighbourhood diagram, inline, linking to the neighbours
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="erd"' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert (
        f'<a href="{table_url("order_line")}">' in svg and f'<a href="{table_url("user")}">' in svg
    )


def test_table_page_of_user_shows_enum_array_jsonb_and_comments(viewer_client, in_variety):
    html = page(viewer_client, table_url("user"))
    for text in ("Display Name", "Shown next to their orders", "<code>on fire</code>", "text[]"):
        assert text in html, text
    assert "jsonb" in html and "gen_random_uuid()" in html
    assert "People who sign in" in html


def test_composite_primary_key_and_table_without_one(viewer_client, in_variety):
    assert "(order_id, line_no)" in page(viewer_client, table_url("order_line"))
    assert "This table has no primary key" in page(viewer_client, table_url("event_log"))


def test_unknown_table_is_a_404_with_a_sentence(viewer_client, in_variety):
    for url in (table_url("no_such_table"), reverse("schema:table_erd", args=["no_such_table"])):
        response = viewer_client.get(url)
        assert response.status_code == 404
        assert f"There is no table called “no_such_table” in schema “{in_variety}”." in (
            response.content.decode()
        )


def test_new_tables_and_columns_show_up(viewer_client, in_variety):
    assert viewer_client.get(table_url("schematest_late")).status_code == 404
    run_in_schema(in_variety, "CREATE TABLE schematest_late (id integer PRIMARY KEY)")
    try:
        assert "schematest_late" in page(viewer_client, "/schema/")
        assert "added_later" not in page(viewer_client, table_url("schematest_late"))
        run_in_schema(in_variety, "ALTER TABLE schematest_late ADD COLUMN added_later text")
        assert "added_later" in page(viewer_client, table_url("schematest_late"))
        assert "added_later" in reflection.reflection().tables["schematest_late"].c
    finally:
        run_in_schema(in_variety, "DROP TABLE schematest_late")


# ---- a part that times out ------------------------------------------------------------------


def test_a_locked_table_costs_its_sizes_and_definitions_only(settings, viewer_client, in_variety):
    settings.TARGET = {**settings.TARGET, "LOCK_TIMEOUT_MS": 100}
    with locked(in_variety, "order"), target_statements() as target:
        listing = page(viewer_client, "/schema/")
        detail = page(viewer_client, table_url("order"))
    locked_sentence = "A table was locked by another session"
    # The list: names, estimates and RLS are there; sizes (and drift) say why they are missing.
    assert 'id="sizes-notice"' in listing and locked_sentence in listing
    assert f'href="{table_url("order_line")}"' in listing and "forced" in listing
    # The table page: the structure is there, sizes and definitions have a notice each.
    assert 'id="size-notice"' in detail and 'id="definitions-notice"' in detail
    assert detail.count(locked_sentence) == 2
    for text in (
        "user_id",
        "numeric(10,2)",
        "order_owner_reads",
        "order_touch",
        "order_user_id_idx",
    ):
        assert text in detail, text
    assert f'<a href="{table_url("user")}">user</a>(id)' in detail
    assert "unavailable" in detail
    assert "CREATE INDEX" not in detail  # definitions were not rendered...
    # Each part behind the lock gave up after lock_timeout, once: the list's sizes and drift,
    # the table page's size and its definitions. None ran into the statement timeout instead.
    assert target.errors == [LOCK_NOT_AVAILABLE] * 4, target.errors
    assert "CREATE INDEX order_user_id_idx" in page(viewer_client, table_url("order"))  # ...now


# ---- diagrams -------------------------------------------------------------------------------


def test_svg_endpoints_serve_well_formed_svg(viewer_client, in_variety):
    for url in (reverse("schema:erd"), reverse("schema:table_erd", args=[SCRIPT_TABLE])):
        response = viewer_client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("image/svg+xml")
        root = ET.fromstring(response.content)  # noqa: S314 - our own output
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<script" not in viewer_client.get(reverse("schema:erd")).content


def test_diagram_page_embeds_the_whole_schema(viewer_client, in_variety):
    html = page(viewer_client, reverse("schema:diagram"))
    assert html.count('class="erd-table"') == 7
    assert "5 foreign keys" in html
    assert f'href="{reverse("schema:erd")}"' in html


def test_the_whole_diagram_is_drawn_once_per_schema_version(viewer_client, in_variety, monkeypatch):
    read = recorded_calls(monkeypatch, catalog, "diagram_columns")
    forget_drawings()
    html = page(viewer_client, reverse("schema:diagram"))
    assert 'data-table="order"' in html and 'data-source="order_line"' in html
    assert 'id="erd-search"' in html
    page(viewer_client, reverse("schema:diagram"))
    page(viewer_client, reverse("schema:erd"))
    assert read == [()]  # the page twice from one reading (the file is drawn from it too)
    run_in_schema(in_variety, "CREATE TABLE schematest_drawn (id integer PRIMARY KEY)")
    try:
        assert 'data-table="schematest_drawn"' in page(viewer_client, reverse("schema:diagram"))
        assert read == [(), ()]
    finally:
        run_in_schema(in_variety, "DROP TABLE schematest_drawn")


def test_a_neighbourhood_reads_the_keys_of_its_tables_only(viewer_client, in_variety, monkeypatch):
    asked = recorded_calls(monkeypatch, catalog, "diagram_foreign_keys")
    svg = page(viewer_client, reverse("schema:table_erd", args=["order"]))
    assert asked and all(args for args in asked)  # never the whole schema's keys
    assert asked[0] == (["order"],)
    assert svg.count('class="erd-table"') == 3


def test_table_names_with_a_slash_have_pages(viewer_client, in_variety):
    run_in_schema(in_variety, 'CREATE TABLE "a/b" (id integer PRIMARY KEY)')
    try:
        url = table_url("a/b")
        assert url == "/schema/a/b/"
        assert '<h1 class="mono table-name">a/b</h1>' in page(viewer_client, url)
        assert viewer_client.get(reverse("schema:table_erd", args=["a/b"])).status_code == 200
    finally:
        run_in_schema(in_variety, 'DROP TABLE "a/b"')


# ---- who may look ---------------------------------------------------------------------------


def test_operators_without_a_role_are_refused(client, operator_factory, in_variety):
    client.force_login(operator_factory("nora-norole", None))
    assert client.get("/schema/").status_code == 403
    assert client.get(table_url("order")).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, in_variety):
    response = client.get("/schema/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_schema_appears_in_the_navigation(viewer_client, in_variety):
    assert 'href="/schema/" class="active"' in page(viewer_client, "/schema/")

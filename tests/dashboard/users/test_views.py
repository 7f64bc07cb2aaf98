"""Support view pages: permissions, the reason gate, audit events, full pages and partials."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.utils.html import escape

from dashboard.audit.models import AuditEvent
from tests.dashboard.target_statements import target_statements
from tests.dashboard.users.conftest import target_rows

pytestmark = pytest.mark.usefixtures("shop")

USER_URLS = [
    "/users/",
    "/users/?q=acc_",
    "/users/ownership/",
    "/users/isolation/",
    "/users/u/acc_alice/",
    "/users/export/acc_alice/",
]


def text(response) -> str:
    return response.content.decode()


def give_reason(client, subject: str = "acc_alice", reason: str = "SUP-1432 missing orders"):
    return client.post(f"/users/u/{subject}/", {"reason": reason})


def give_browsing_reason(client, reason: str = "SUP-1432 find the caller"):
    return client.post("/users/reason/", {"reason": reason})


# -- permissions -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", USER_URLS)
def test_viewers_are_refused(viewer_client, url):
    response = viewer_client.get(url)
    assert response.status_code == 403
    assert "support" in text(response)


def test_viewers_cannot_post_a_reason(viewer_client):
    assert give_reason(viewer_client).status_code == 403


@pytest.mark.parametrize("url", ["/users/", "/users/ownership/", "/users/isolation/"])
def test_support_and_above_see_the_section(support_client, engineer_client, admin_client, url):
    for client in (support_client, engineer_client, admin_client):
        assert client.get(url).status_code == 200


def test_section_appears_in_the_navigation_for_support_only(support_client, viewer_client):
    assert 'href="/users/"' in text(support_client.get("/users/"))
    assert 'href="/users/"' not in text(viewer_client.get("/"))


# -- finding a user ----------------------------------------------------------------------------
def test_find_page_names_the_users_table(support_client):
    page = text(support_client.get("/users/"))
    assert "set by USERS_TABLE: ust_accounts (referenced by 2 tables)" in page


def test_searching_needs_a_reason_first(support_client, htmx_headers):
    full = support_client.get("/users/?q=acc_")
    assert full.status_code == 302
    assert full["Location"] == "/users/reason/?next=%2Fusers%2F%3Fq%3Dacc_"
    # The search form swaps only the results: the whole page goes to the reason form, and the
    # reason form comes back to the search, not to the empty page it was typed in.
    partial = support_client.get(
        "/users/?q=acc_", HTTP_HX_CURRENT_URL="http://testserver/users/", **htmx_headers
    )
    assert partial["HX-Redirect"] == full["Location"]
    assert "acc_alice" not in text(partial)
    assert not AuditEvent.objects.exists()
    back = support_client.post("/users/reason/", {"reason": "SUP-7 who?", "next": "/users/?q=acc_"})
    assert back["Location"] == "/users/?q=acc_"
    assert 'href="/users/u/acc_alice/"' in text(support_client.get(back["Location"]))
    assert AuditEvent.objects.get(action="user.search").reason == "SUP-7 who?"


def test_find_by_prefix_full_page_and_partial(support_client, htmx_headers):
    give_browsing_reason(support_client)
    full = support_client.get("/users/?q=acc_")
    assert full.status_code == 200
    assert "<html" in text(full)
    for key in ("acc_alice", "acc_bob", "acc_carol"):
        assert f'href="/users/u/{key}/"' in text(full)
    partial = support_client.get("/users/?q=acc_", **htmx_headers)
    assert "<html" not in text(partial)
    assert text(partial).strip().startswith('<section id="results"')
    assert "acc_carol" in text(partial)


def test_exact_match_goes_to_the_user(support_client, htmx_headers):
    give_browsing_reason(support_client)
    response = support_client.get("/users/?q=Alice@Example.com")
    assert response.status_code == 302
    assert response["Location"] == "/users/u/acc_alice/"
    partial = support_client.get("/users/?q=acc_bob", **htmx_headers)
    assert partial["HX-Redirect"] == "/users/u/acc_bob/"


def test_searches_are_audited(support_client):
    give_browsing_reason(support_client)
    support_client.get("/users/?q=acc_")
    event = AuditEvent.objects.get(action="user.search")
    assert event.reason == "SUP-1432 find the caller"
    assert event.tables == ["ust_accounts"]
    assert event.detail["query"] == "acc_"
    assert event.detail["matches"] == ["acc_alice", "acc_bob", "acc_carol"]
    assert event.operator_name == "sue-support"


def test_nothing_found_says_so(support_client):
    give_browsing_reason(support_client)
    assert "No user has an id, email or name" in text(support_client.get("/users/?q=zz-nobody"))


# -- the reason gate ---------------------------------------------------------------------------
def test_no_reason_shows_the_form_and_no_data(support_client):
    response = support_client.get("/users/u/acc_alice/")
    assert response.status_code == 200
    page = text(response)
    assert 'name="reason"' in page
    assert "alice@example.com" not in page
    assert "Called about a refund" not in page
    assert not AuditEvent.objects.filter(action="user.view").exists()


def test_blank_or_too_short_reason_is_a_form_error(support_client):
    for reason in ("", "  ", "ab"):
        response = give_reason(support_client, reason=reason)
        assert response.status_code == 200
        assert 'class="error"' in text(response)
    assert "alice@example.com" not in text(support_client.get("/users/u/acc_alice/"))


HOSTILE_NOTE = '<script>alert("acc_alice")</script>'


@pytest.fixture
def hostile_note() -> Iterator[str]:
    """A note of Alice's whose body is markup; removed afterwards (the tables are shared)."""
    ((note_id,),) = target_rows(
        "INSERT INTO ust_notes (author, body) VALUES ('acc_alice', %s) RETURNING id",
        (HOSTILE_NOTE,),
    )
    yield HOSTILE_NOTE
    target_rows("DELETE FROM ust_notes WHERE id = %s RETURNING id", (note_id,))


def test_with_a_reason_the_data_shows_and_the_view_is_audited(support_client, hostile_note):
    response = give_reason(support_client)
    assert response.status_code == 302
    assert response["Location"] == "/users/u/acc_alice/"
    page = text(support_client.get("/users/u/acc_alice/", REMOTE_ADDR="203.0.113.9"))
    assert "alice@example.com" in page
    assert "SUP-1432 missing orders" in page
    for table in ("ust_orders", "ust_order_items", "ust_payments", "ust_notes"):
        assert f'id="table-{table}"' in page
    assert "secret-alice" not in page  # the password hash is masked
    # A value is text, never markup: the note's body shows escaped, and nowhere as a tag.
    assert escape(hostile_note) in page
    assert hostile_note not in page
    event = AuditEvent.objects.get(action="user.view")
    assert event.subject_user == "acc_alice"
    assert event.reason == "SUP-1432 missing orders"
    assert event.client_address == "203.0.113.9"
    assert event.operator_name == "sue-support"
    assert {"ust_accounts", "ust_orders", "ust_order_items", "ust_notes"} <= set(event.tables)


def test_the_reason_is_kept_for_that_user_only_but_every_view_is_audited(support_client):
    give_reason(support_client)
    support_client.get("/users/u/acc_alice/")
    support_client.get("/users/u/acc_alice/")
    assert AuditEvent.objects.filter(action="user.view", subject_user="acc_alice").count() == 2
    other = text(support_client.get("/users/u/acc_bob/"))
    assert 'name="reason"' in other  # another end-user asks again
    assert "Bob@Example.com" not in other


def test_done_forgets_the_reason(support_client):
    give_reason(support_client)
    response = support_client.post("/users/forget/acc_alice/")
    assert response.status_code == 302
    assert 'name="reason"' in text(support_client.get("/users/u/acc_alice/"))


def test_reason_can_be_made_optional(support_client, settings):
    settings.SUPPORT_REASON_REQUIRED = False
    page = text(support_client.get("/users/u/acc_alice/"))
    assert "alice@example.com" in page
    assert AuditEvent.objects.get(action="user.view").reason == ""


# -- the user page -----------------------------------------------------------------------------
def test_user_page_shows_counts_paths_and_missing_indexes(support_client):
    give_reason(support_client, "acc_bob")
    page = text(support_client.get("/users/u/acc_bob/"))
    items = target_rows(
        "SELECT count(*) FROM ust_order_items AS i JOIN ust_orders AS o ON o.id = i.order_id "
        "WHERE o.account_id = 'acc_bob'"
    )[0][0]
    assert f'data-count="{items}"' in page
    assert (
        "ust_order_items.order_id → ust_orders.id, ust_orders.account_id → ust_accounts.id" in page
    )
    assert "CREATE INDEX CONCURRENTLY ON public.ust_order_items (order_id);" in page
    assert "ust_payments" in page  # bob has no payments: listed among the empty tables
    assert "No rows of this user in" in page


def test_user_page_links_counts_by_status_to_the_scoped_filtered_list(support_client):
    give_reason(support_client, "acc_bob")
    page = text(support_client.get("/users/u/acc_bob/"))
    for status, count in target_rows(
        "SELECT status, count(*) FROM ust_orders WHERE account_id = 'acc_bob' GROUP BY status"
    ):
        link = (
            f'href="/data/ust_orders/?scope_user=acc_bob&amp;o=-placed_at&amp;f.eq.status={status}"'
        )
        assert f'{link}><span class="mono">{status}</span> <strong>{count}</strong>' in page
    # The whole table in the Data browser comes newest first too, as the card shows it.
    assert 'href="/data/ust_orders/?scope_user=acc_bob&amp;o=-placed_at">Open in' in page
    assert 'The newest 5 by <span class="mono">placed_at</span>' in page


def test_the_scoped_data_list_leads_back_to_the_user(support_client):
    give_reason(support_client, "acc_bob")
    page = text(support_client.get("/data/ust_orders/?scope_user=acc_bob&f.eq.status=open"))
    crumbs = page.split('<nav class="crumbs" aria-label="Breadcrumb">')[1].split("</nav>")[0]
    assert '<a class="mono" href="/users/u/acc_bob/">acc_bob</a>' in crumbs
    assert '<a href="/users/u/acc_bob/">Back to end-user acc_bob</a>' in page
    # A row opened from it leads back to this list: same scope, same filter.
    row_link = page.split('<td class="integer num key"><a href="')[1].split('"')[0]
    row = text(support_client.get(row_link.replace("&amp;", "&")))
    back = row.split('class="button small" href="')[1].split('"')[0]
    assert back == "/data/ust_orders/?scope_user=acc_bob&amp;f.eq.status=open"


def test_clear_filters_shows_only_with_something_to_clear_and_keeps_the_scope(
    support_client, htmx_headers
):
    give_reason(support_client, "acc_bob")
    plain = text(support_client.get("/data/ust_orders/?scope_user=acc_bob"))
    assert "Clear filters" not in plain  # the scope is not a filter: nothing to clear
    filtered = support_client.get(
        "/data/ust_orders/?scope_user=acc_bob&f.eq.status=open&q=x&o=-id", **htmx_headers
    )
    clear = text(filtered).split('data-focus-key="clear"')[0].rsplit('href="', 1)[1]
    assert clear.split('"')[0] == "/data/ust_orders/?scope_user=acc_bob&amp;o=-id"
    # The address bar gets the list's state, not the form's empty fields.
    assert filtered["HX-Push-Url"] == (
        "/data/ust_orders/?scope_user=acc_bob&o=-id&f.eq.status=open&q=x"
    )


def test_table_card_partial(support_client, htmx_headers):
    give_reason(support_client)
    response = support_client.get("/users/u/acc_alice/?table=ust_orders", **htmx_headers)
    assert response.status_code == 200
    body = text(response)
    assert body.strip().startswith('<section class="card table-card" id="table-ust_orders">')
    assert "<html" not in body
    event = AuditEvent.objects.get(action="user.view")
    assert event.tables == ["ust_orders"]


def test_table_card_without_a_reason_sends_the_browser_to_the_gate(support_client, htmx_headers):
    response = support_client.get("/users/u/acc_alice/?table=ust_orders", **htmx_headers)
    assert response["HX-Redirect"] == "/users/u/acc_alice/"
    assert "alice" not in text(response)
    assert not AuditEvent.objects.filter(action="user.view").exists()


def test_table_card_for_an_unlinked_table_is_a_404_sentence(support_client, htmx_headers):
    give_reason(support_client)
    response = support_client.get("/users/u/acc_alice/?table=ust_shipments", **htmx_headers)
    assert response.status_code == 404
    assert "not linked to ust_accounts" in text(response)


def test_user_without_a_row_shows_left_over_rows(support_client):
    give_reason(support_client, "ghost")
    page = text(support_client.get("/users/u/ghost/"))
    assert "There is no row in" in page
    assert "Left behind by a deleted account" in page


def test_query_count_depends_on_tables_not_rows(support_client, settings):
    settings.REFLECTION_CHECK_SECONDS = 3600  # the schema check is not part of the page's cost
    give_reason(support_client, "acc_alice")
    give_reason(support_client, "acc_bob")
    support_client.get("/users/u/acc_alice/")  # warm the reflection and ownership caches
    with target_statements() as few:
        support_client.get("/users/u/acc_alice/")  # 3 orders, 6 items
    with target_statements() as many:
        support_client.get("/users/u/acc_bob/")  # 40 orders, 80 items
    owned_tables = 5  # ust_accounts, ust_orders, ust_order_items, ust_payments, ust_notes
    # One read-only transaction: its set-up statement, one statement counting the rows of every
    # table, then the newest rows of each table that has some (the users table: its row), and
    # the counts by status of the one table with a status column (ust_orders). Bob has no
    # payments, so he needs one fewer.
    with_status = 1
    bound = 1 + 1 + owned_tables + with_status
    assert len(few) == bound
    assert len(many) == bound - 1


# -- many linked tables ------------------------------------------------------------------------
LINKED_TABLES = 36


@pytest.fixture
def many_linked_tables(shop, settings) -> Iterator[list[str]]:
    """LINKED_TABLES more tables owned by ust_accounts (half directly, half through ust_orders),
    each holding rows of acc_alice; dropped after the test."""
    from tests.dashboard.users.conftest import owner_url

    names = [f"ust_linked_{number:02d}" for number in range(LINKED_TABLES)]
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        for number, name in enumerate(names):
            parent, column = (
                ("ust_accounts", "account_id") if number % 2 else ("ust_orders", "order_id")
            )
            kind = "text" if parent == "ust_accounts" else "bigint"
            conn.execute(
                f"CREATE TABLE {name} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                f"{column} {kind} NOT NULL REFERENCES {parent} (id), note text)"
            )
            conn.execute(f"CREATE INDEX ON {name} ({column})")
            source = (
                "SELECT 'acc_alice' FROM generate_series(1, 2)"
                if parent == "ust_accounts"
                else ("SELECT id FROM ust_orders WHERE account_id = 'acc_alice'")
            )
            conn.execute(
                f"INSERT INTO {name} ({column}, note) SELECT x, 'row' FROM ({source}) AS s(x)"
            )
    _schema_changed()
    try:
        yield names
    finally:
        _drop_tables(names)


def _schema_changed() -> None:
    """Make the next page see the tables created or dropped (reflection and ownership map)."""
    from dashboard.schema import reflection as refl
    from dashboard.users.ownership import forget_ownership_map

    refl.invalidate()
    forget_ownership_map()


def _drop_tables(names: list[str]) -> None:
    from tests.dashboard.users.conftest import owner_url

    with psycopg.connect(owner_url(), autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP TABLE IF EXISTS {name}")
    _schema_changed()


def test_statements_are_bounded_by_the_cards_shown_not_the_linked_tables(
    support_client, settings, many_linked_tables
):
    settings.REFLECTION_CHECK_SECONDS = 3600  # the schema check is not part of the page's cost
    settings.SUPPORT_USER_PAGE_CARDS = 3
    give_reason(support_client, "acc_alice")
    support_client.get("/users/u/acc_alice/")  # warm the reflection and ownership caches
    with target_statements() as seen:
        page = text(support_client.get("/users/u/acc_alice/"))
    # The read-only transaction's set-up, one statement counting every linked table (41 of
    # them), the users table's row, and the first rows of 3 tables: 6, however many are linked.
    assert len(seen) == 1 + 1 + 1 + 3
    assert page.count("Show the first rows") == LINKED_TABLES + 4 - 3  # 40 tables with rows
    for name in many_linked_tables:
        assert f'id="table-{name}"' in page  # every card is there, with its count
    event = AuditEvent.objects.filter(action="user.view").latest("id")
    assert len(event.detail["rows"]) == 1 + 3  # rows shown: the user's own and 3 cards'


def test_a_deferred_card_loads_its_rows_when_opened(support_client, settings, many_linked_tables):
    settings.REFLECTION_CHECK_SECONDS = 3600  # the schema check is not part of the card's cost
    settings.SUPPORT_USER_PAGE_CARDS = 0
    give_reason(support_client, "acc_alice")
    page = text(support_client.get("/users/u/acc_alice/"))
    assert "Show the first rows" in page
    name = many_linked_tables[1]  # direct: 2 rows of acc_alice
    with target_statements() as seen:
        card = support_client.get(f"/users/u/acc_alice/?table={name}", HTTP_HX_REQUEST="true")
    assert card.status_code == 200
    assert "Show the first rows" not in text(card)
    assert text(card).count("<tr>") == 1 + 2  # the header and acc_alice's two rows
    assert len(seen) == 1 + 1 + 1  # set-up, its count, its rows
    event = AuditEvent.objects.filter(action="user.view").latest("id")
    assert event.tables == [name] and len(event.detail["rows"][name]["keys"]) == 2


def _card_counts(page: str) -> dict[str, str]:
    """Return each card's count as the page shows it (`data-count`), by table."""
    return dict(re.findall(r'id="table-([^"]+)".*?data-count="([^"]*)"', page, flags=re.S))


def _prepared_plans() -> list[tuple[int, int]]:
    from sqlalchemy import text as sql

    from dashboard.target import run_read

    query = sql(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE name LIKE 'schemadesk%'"
    )
    return [tuple(row) for row in run_read(lambda conn: conn.execute(query).all())]


def _foreign_keys_only(settings) -> None:
    """Link no table by USER_LINKS (ust_notes is then unlinked): every path is foreign keys,
    so the counting statement takes the user's key as a parameter and can be prepared."""
    from dashboard.users.ownership import forget_ownership_map

    settings.USER_LINKS = {}
    forget_ownership_map()


def test_the_counting_statement_is_prepared_once_and_planned_once(
    support_client, settings, many_linked_tables
):
    settings.REFLECTION_CHECK_SECONDS = 3600
    _foreign_keys_only(settings)
    give_reason(support_client, "acc_alice")
    give_reason(support_client, "acc_bob")
    with target_statements() as first:
        alice = text(support_client.get("/users/u/acc_alice/"))
    with target_statements() as second:
        bob = text(support_client.get("/users/u/acc_bob/"))
    # Prepared on the first view only (the pool lends the same connection), then executed
    # with each user's key; the page's statements are those of the unprepared page plus one.
    assert [s for s in first.sent if s.startswith("PREPARE")] != []
    assert not [s for s in second.sent if s.startswith("PREPARE")]
    assert [s for s in second.sent if s.startswith("EXECUTE")] != []
    # PostgreSQL planned it once (a generic plan), not at every view.
    assert _prepared_plans() == [(2, 0)]
    # ... and the counts are each user's (bob: 40 orders, 80 items, none in the linked tables).
    assert _card_counts(alice)["ust_orders"] == "3"
    assert _card_counts(bob)["ust_orders"] == "40"
    assert _card_counts(bob)["ust_order_items"] == "80"
    assert not any(name.startswith("ust_linked_") for name in _card_counts(bob))


def test_a_prepared_statement_gone_in_a_later_transaction_is_read_unprepared(
    support_client, settings, many_linked_tables, monkeypatch
):
    """A pooler in transaction mode lends another server session to the next transaction:
    the statement prepared before is not there. The page still shows, and from then on the
    process counts without preparing."""
    from dashboard import target

    monkeypatch.setitem(target._prepared_kept, "seen_lost", False)
    settings.REFLECTION_CHECK_SECONDS = 3600
    _foreign_keys_only(settings)
    give_reason(support_client, "acc_alice")
    before = text(support_client.get("/users/u/acc_alice/"))  # prepared now
    target.run_read(lambda conn: conn.exec_driver_sql("DEALLOCATE ALL"))
    with target_statements() as seen:
        response = support_client.get("/users/u/acc_alice/")
    assert response.status_code == 200
    assert _card_counts(text(response)) == _card_counts(before)
    assert [s.split()[0] for s in seen.sent].count("EXECUTE") == 1  # the one that failed
    assert not [s for s in seen.sent if s.startswith("PREPARE")]
    assert target._prepared_kept["seen_lost"]


# -- the prepared path: what production sends -------------------------------------------------
# Without USER_LINKS every path is foreign keys, and with 20 tables or more counted the page's
# counting statement is prepared (`execute_prepared`): the path a real schema of hundreds of
# user-owned tables takes (README: 14 to 16 statements at 300 tables, 4 for a deferred card).
CARD_TABLES = 20  # with ust_orders, ust_order_items and ust_payments: 23 tables counted


@pytest.fixture
def carded_tables() -> Iterator[Callable[[int], list[str]]]:
    """Return a function that makes the tables ust_card_000… up to a number: each owned by
    ust_accounts directly, with a status column of three values (so each card read shows its
    counts by status, as the benchmark's tables do) and two rows of acc_alice. By name they
    come first among the direct tables, so the page's first cards are theirs. Dropped after."""
    from tests.dashboard.users.conftest import owner_url

    made: list[str] = []

    def up_to(count: int) -> list[str]:
        with psycopg.connect(owner_url(), autocommit=True) as conn:
            for number in range(len(made), count):
                name = f"ust_card_{number:03d}"
                conn.execute(
                    f"CREATE TABLE {name} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                    "account_id text NOT NULL REFERENCES ust_accounts (id), "
                    "status text NOT NULL CHECK (status IN ('open', 'done', 'lost')))"
                )
                conn.execute(f"CREATE INDEX ON {name} (account_id)")
                conn.execute(
                    f"INSERT INTO {name} (account_id, status) "
                    "VALUES ('acc_alice', 'open'), ('acc_alice', 'done')"
                )
                made.append(name)
        _schema_changed()
        return list(made)

    try:
        yield up_to
    finally:
        _drop_tables(made)


def _kinds(seen) -> list[str]:
    """Return what each statement sent was, in order: set-up, key, PREPARE, EXECUTE, select."""
    kinds = []
    for statement in seen.sent:
        if "transaction_read_only" in statement:
            kinds.append("set-up")
        elif "set_config(" in statement:
            kinds.append("key")
        else:
            kinds.append(statement.split()[0].upper())
    return kinds


def test_the_prepared_user_page_sends_as_many_statements_for_twice_the_linked_tables(
    support_client, settings, carded_tables
):
    from dashboard.users.ownership import ownership_map

    settings.REFLECTION_CHECK_SECONDS = 3600  # the schema check is not part of the page's cost
    settings.SUPPORT_USER_PAGE_CARDS = 5  # the default: the first rows of 5 tables at once
    _foreign_keys_only(settings)
    give_reason(support_client, "acc_alice")
    seen: dict[int, tuple[list[str], list[str]]] = {}
    for count in (CARD_TABLES, 2 * CARD_TABLES):
        names = carded_tables(count)
        ownership_map()  # the schema reflected and the map built, as in steady use
        with target_statements() as first:
            page = text(support_client.get("/users/u/acc_alice/"))
        with target_statements() as again:
            support_client.get("/users/u/acc_alice/")
        seen[count] = (_kinds(first), _kinds(again))
        counts = _card_counts(page)
        assert all(counts[name] == "2" for name in names), counts  # every card, counted
        # Alice has rows in these tables and in ust_orders, ust_order_items and ust_payments:
        # the page reads the first rows of 5 of them; the others' cards wait to be opened.
        assert page.count("Show the first rows") == count + 3 - 5
    # The read-only transaction's set-up, the user's key (set_config), the counting statement
    # (PREPAREd on the first view of a connection only, then EXECUTEd), the user's row, then the
    # first rows and the counts by status of each of the 5 cards read: 14 (15 with the PREPARE),
    # whether 23 or 43 tables are linked.
    cards = ["SELECT", "SELECT"] * 5
    assert seen[CARD_TABLES] == seen[2 * CARD_TABLES]
    assert seen[CARD_TABLES][0] == ["set-up", "key", "PREPARE", "EXECUTE", "SELECT", *cards]
    assert seen[CARD_TABLES][1] == ["set-up", "key", "EXECUTE", "SELECT", *cards]
    assert len(seen[CARD_TABLES][1]) == 14


def test_a_deferred_card_on_the_prepared_path_sends_four_statements(
    support_client, settings, htmx_headers, carded_tables
):
    settings.REFLECTION_CHECK_SECONDS = 3600  # the schema check is not part of the card's cost
    _foreign_keys_only(settings)
    give_reason(support_client, "acc_alice")
    sent: dict[int, list[str]] = {}
    for count in (CARD_TABLES, 2 * CARD_TABLES):
        names = carded_tables(count)
        page = text(support_client.get("/users/u/acc_alice/"))  # prepared and counted
        deferred = names[-1]
        assert f'hx-get="/users/u/acc_alice/?table={deferred}"' in page  # not read with the page
        with target_statements() as seen:
            card = text(support_client.get(f"/users/u/acc_alice/?table={deferred}", **htmx_headers))
        assert "Show the first rows" not in card and card.count("<tr>") == 1 + 2
        assert 'f.eq.status=done"' in card and 'f.eq.status=open"' in card  # by status
        sent[count] = seen.sent
    # The set-up, the card's own count (one table: not worth a prepared statement), its first
    # rows and its counts by status: 4, however many tables are linked.
    assert [len(statements) for statements in sent.values()] == [4, 4]
    for statements in sent.values():
        assert "transaction_read_only" in statements[0]
        assert not [
            s for s in statements[1:] if s.startswith(("PREPARE", "EXECUTE", "SELECT set_"))
        ]

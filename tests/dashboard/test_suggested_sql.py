"""Every statement the console suggests parses and runs, whatever the names it has to quote.

A throwaway database holds, in a schema called `Shop "EU"`, tables named `user`, `order` and
`Weird "Name"` with camelCase columns. The console's target is pointed at it, every page that
suggests SQL is rendered, and each suggested statement (marked `data-suggested-sql` in the
page) is parsed with pglast and run there with an empty search_path.
"""

from __future__ import annotations

import html
import os
import re
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from pglast import parse_sql
from psycopg import sql

from dashboard import target
from dashboard.schema import reflection
from dashboard.suggested_sql import qualified_name, quote_identifier
from dashboard.users.ownership import forget_ownership_map
from tests.dashboard.queries.conftest import as_superuser
from tests.unavailable import unavailable

pytestmark = pytest.mark.django_db

SCHEMA = 'Shop "EU"'
DDL = '''
CREATE TABLE "user" (
    id text PRIMARY KEY,
    email text NOT NULL,
    "displayName" text
);
CREATE TABLE "order" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "userId" text NOT NULL REFERENCES "user" (id),
    "placedAt" timestamptz NOT NULL,
    total numeric NOT NULL
);
CREATE TABLE "Weird ""Name""" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "ownerId" text NOT NULL REFERENCES "user" (id),
    "orderId" bigint REFERENCES "order" (id),
    "Some Value" integer
);
CREATE INDEX "Weird ""idx""" ON "Weird ""Name""" ("orderId");
CREATE INDEX "Weird ""idx"" wider" ON "Weird ""Name""" ("orderId", "Some Value");
INSERT INTO "user" (id, email) VALUES
    ('u1', 'Twin@Example.com'), ('u2', 'TWIN@example.com'), ('u3', 'third@example.com');
INSERT INTO "order" ("userId", "placedAt", total)
SELECT 'u' || (1 + g % 3), now() - g * interval '1 hour', g % 7 FROM generate_series(1, 3000) AS g;
INSERT INTO "Weird ""Name""" ("ownerId", "orderId", "Some Value")
SELECT 'u' || (1 + g % 3), g, g % 5 FROM generate_series(1, 3000) AS g;
ANALYZE;
'''
# The sleep puts the second statement at the top of pg_stat_statements' total time, above the
# console's own catalog reads, so the indexes page (top statements only) considers it.
WORKLOAD = (
    ('SELECT * FROM {schema}."order" WHERE "userId" = %s ORDER BY "placedAt"', "u1"),
    ('SELECT count(*), pg_sleep(0.2) FROM {schema}."Weird ""Name""" WHERE "Some Value" = %s', 3),
)
ORDERS_FRAGMENT = 'ORDER BY "placedAt"'  # finds the first statement in pg_stat_statements
SUGGESTED = re.compile(r"<code[^>]*\bdata-suggested-sql\b[^>]*>(.*?)</code>", re.S)


def _url(base: str, dbname: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{dbname}"))


@pytest.fixture
def shop_database(settings, monkeypatch) -> Iterator[str]:
    """A throwaway database as described above, made the console's target; yield its URL."""
    dbname = f"qt_quoting_{secrets.token_hex(3)}"
    owner = urlsplit(os.environ["APP_DIRECT_URL"]).username
    as_superuser(f"CREATE DATABASE {dbname} OWNER {owner}")
    url = _url(os.environ["APP_DIRECT_URL"], dbname)
    try:
        as_superuser("CREATE EXTENSION pg_stat_statements", dbname=dbname)
        if as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
            as_superuser("CREATE EXTENSION hypopg", dbname=dbname)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))
            conn.execute(DDL)  # type: ignore[arg-type]
            # A unique index that fails to build stays behind, invalid.
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute('CREATE UNIQUE INDEX CONCURRENTLY "bad ""total""" ON "order" (total)')
            conn.execute("RESET search_path")
            quoted = sql.Identifier(SCHEMA).as_string(conn)
            for statement, value in WORKLOAD:
                conn.execute(statement.format(schema=quoted), (value,))  # type: ignore[arg-type]
        monkeypatch.setenv("QT_QUOTING_TARGET_URL", url)
        settings.TARGET = {**settings.TARGET, "URL_VAR": "QT_QUOTING_TARGET_URL", "SCHEMA": SCHEMA}
        settings.REFLECTION_CHECK_SECONDS = 0
        settings.USERS_TABLE = "user"
        settings.USER_LINKS = {}
        settings.SUPPORT_REASON_REQUIRED = False
        target.reset_engine()
        reflection.invalidate()
        forget_ownership_map()
        yield url
    finally:
        target.reset_engine()
        reflection.invalidate()
        forget_ownership_map()
        as_superuser(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def _suggested(page: str) -> list[str]:
    return [html.unescape(found).strip() for found in SUGGESTED.findall(page)]


SUGGESTED_TAG = re.compile(r"<code[^>]*\bdata-suggested-sql\b[^>]*>")


def _assert_each_has_a_copy_button(name: str, page: str) -> None:
    """Every suggested statement has a unique id and a copy button aimed at it."""
    tags = SUGGESTED_TAG.findall(page)
    assert tags, name
    for tag in tags:
        found = re.search(r'\bid="([^"]+)"', tag)
        assert found, (name, tag)
        assert page.count(f'id="{found.group(1)}"') == 1, (name, tag)
        assert f'data-copy="{found.group(1)}"' in page, (name, tag)


def _queryid(url: str, fragment: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT queryid FROM pg_stat_statements WHERE query LIKE %s AND toplevel "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (f"%{fragment}%",),
        ).fetchone()
    assert row, f"no statement containing {fragment!r} was recorded"
    return int(row[0])


def test_quote_identifier_agrees_with_the_server_on_every_keyword():
    words = [row[0] for row in as_superuser("SELECT word FROM pg_get_keywords()")]
    names = [*words, "tasks", "userId", 'Weird "Name"', "9lives", "été", "a b", "_ok1"]
    server = dict(
        as_superuser("SELECT name, quote_ident(name) FROM unnest(%s::text[]) AS name", (names,))
    )
    assert {name: quote_identifier(name) for name in names} == server
    assert qualified_name(SCHEMA, "user") == '"Shop ""EU"""."user"'


def test_every_suggested_statement_parses_and_runs(admin_client, shop_database):
    pages = {
        "user page": admin_client.get("/users/u/u1/"),
        "isolation": admin_client.get("/users/isolation/", HTTP_HX_REQUEST="true"),  # lazy part
        "email search": admin_client.get("/users/", {"q": "twin@EXAMPLE.com"}),
        "indexes": admin_client.get("/queries/indexes/"),
        "statement": admin_client.get(f"/queries/{_queryid(shop_database, ORDERS_FRAGMENT)}/"),
    }
    statements: dict[str, list[str]] = {}
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.content.decode()[:2000])
        statements[name] = _suggested(response.content.decode())
        _assert_each_has_a_copy_button(name, response.content.decode())
    # What each page must have suggested about these tables.
    order, weird = qualified_name(SCHEMA, "order"), qualified_name(SCHEMA, 'Weird "Name"')
    assert f'CREATE INDEX CONCURRENTLY ON {order} ("userId");' in statements["user page"]
    assert f'CREATE INDEX CONCURRENTLY ON {weird} ("ownerId");' in statements["isolation"]
    assert (
        f"CREATE INDEX CONCURRENTLY ON {qualified_name(SCHEMA, 'user')} (lower(email));"
        in statements["email search"]
    )
    drops = {s for s in statements["indexes"] if s.startswith("DROP INDEX")}
    for index in ('bad "total"', 'Weird "idx"'):  # invalid; covered by a wider index
        assert f"DROP INDEX CONCURRENTLY {qualified_name(SCHEMA, index)};" in drops
        assert f'CREATE INDEX CONCURRENTLY ON {weird} ("Some Value");' in statements["indexes"]
    assert (
        f'CREATE INDEX CONCURRENTLY ON {order} ("userId", "placedAt");' in (statements["statement"])
    )

    unique = list(dict.fromkeys(s for found in statements.values() for s in found))
    with psycopg.connect(shop_database, autocommit=True) as conn:
        conn.execute("SET search_path TO pg_catalog")  # nothing resolves unless qualified
        for statement in unique:
            assert len(parse_sql(statement)) == 1, statement
            conn.execute(statement)  # type: ignore[arg-type]
    assert len(unique) >= 7


def test_hypopg_accepts_the_suggested_definitions(engineer_client, shop_database):
    if not as_superuser("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
        unavailable("hypopg is not installed on this PostgreSQL server.")
    queryid = _queryid(shop_database, ORDERS_FRAGMENT)
    response = engineer_client.post(
        f"/queries/{queryid}/hypothetical/", {"p1": "u1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "q-compare" in response.content.decode()

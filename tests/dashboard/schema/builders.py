"""Test schemas for the Schema section (and the Data section's picker), each in its own Postgres
schema created as the owner, and the fixtures that build them and point the target at one.

`variety` holds every awkward shape the pages must cope with: table names that are SQL keywords
(`user`, `order`) or markup (`<script>…`), mixed-case quoted columns, UUID / text / identity /
composite primary keys, a table without a primary key, an enum, an array, JSONB, generated
columns, comments, a trigger, RLS with policies, and composite and self-referencing foreign keys.
`many` holds a few hundred generated tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from core.embedded import OWNER_ROLE, READER_ROLE, schema_reader_sql
from dashboard.schema import reflection

SCRIPT_TABLE = "<script>alert('x')</script>"
SCRIPT_COLUMN = '"><img src=x onerror=alert(1)>'
MANY_TABLES = 300

VARIETY_DDL = f"""
CREATE TYPE mood AS ENUM ('calm', 'busy', 'on fire');

CREATE TABLE "user" (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "Display Name" text,
    mood mood NOT NULL DEFAULT 'calm',
    tags text[] NOT NULL DEFAULT '{{}}',
    profile jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE "user" IS 'People who sign in';
COMMENT ON COLUMN "user"."Display Name" IS 'Shown next to their orders';

CREATE TABLE country (
    code text PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE "order" (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    total numeric(10, 2) NOT NULL CONSTRAINT total_not_negative CHECK (total >= 0),
    quantity integer NOT NULL DEFAULT 1,
    doubled integer GENERATED ALWAYS AS (quantity * 2) STORED,
    "Status" text
);
CREATE INDEX order_user_id_idx ON "order" (user_id);

CREATE TABLE order_line (
    order_id bigint NOT NULL REFERENCES "order" (id),
    line_no integer NOT NULL,
    country_code text REFERENCES country (code),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE line_note (
    order_id bigint NOT NULL,
    line_no integer NOT NULL,
    note text,
    CONSTRAINT line_note_line_fk FOREIGN KEY (order_id, line_no)
        REFERENCES order_line (order_id, line_no)
);

CREATE TABLE event_log (
    at timestamptz NOT NULL DEFAULT now(),
    payload jsonb
);

CREATE TABLE "{SCRIPT_TABLE.replace('"', '""')}" (
    id integer PRIMARY KEY,
    parent_id integer REFERENCES "{SCRIPT_TABLE.replace('"', '""')}" (id),
    "{SCRIPT_COLUMN.replace('"', '""')}" text
);

CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER order_touch BEFORE UPDATE ON "order" FOR EACH ROW EXECUTE FUNCTION touch();

ALTER TABLE "order" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "order" FORCE ROW LEVEL SECURITY;
CREATE POLICY order_owner_reads ON "order" FOR SELECT TO todo_app
    USING (user_id = current_setting('app.user_id')::uuid);
CREATE POLICY order_owner_writes ON "order" FOR INSERT TO todo_app
    WITH CHECK (user_id = current_setting('app.user_id')::uuid);

INSERT INTO "user" ("Display Name", tags) SELECT 'person ' || n, ARRAY['t' || n]
FROM generate_series(1, 25) AS n;
ANALYZE "user";
"""


def owner_url() -> str:
    """Return the URL of the target database as its owner (who may create schemas)."""
    return os.environ["APP_DIRECT_URL"]


def unique_schema_name(purpose: str) -> str:
    """Return a schema name no other test module uses."""
    return f"schematest_{purpose}_{secrets.token_hex(3)}"


def run_in_schema(schema: str, statements: str) -> None:
    """Run `statements` as the owner with `schema` first on the search path (autocommit)."""
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(statements)  # type: ignore[arg-type]


def create_schema(schema: str) -> None:
    """Create `schema` as the owner, readable by the console's reader (as migrations would
    find it set up: the reader's grants on the application's schema)."""
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for statement in schema_reader_sql(
            READER_ROLE, conn.info.dbname, owner=OWNER_ROLE, schema=schema
        ):
            conn.execute(statement)


def drop_schema(schema: str) -> None:
    with psycopg.connect(owner_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def many_tables_ddl(count: int = MANY_TABLES) -> str:
    """Return DDL for `count` tables in chains of five (each references the one before)."""
    statements = []
    for number in range(count):
        name = f"t{number:03d}"
        reference = ""
        if number % 5 and number > 0:
            reference = f", parent_id integer REFERENCES t{number - 1:03d} (id)"
        statements.append(
            f"CREATE TABLE {name} (id integer PRIMARY KEY, label text, amount numeric{reference});"
        )
    return "\n".join(statements)


@contextmanager
def built_schema(purpose: str, ddl: str) -> Iterator[str]:
    """Create a fresh schema, run `ddl` in it, yield its name and drop it afterwards."""
    schema = unique_schema_name(purpose)
    create_schema(schema)
    try:
        run_in_schema(schema, ddl)
        yield schema
    finally:
        drop_schema(schema)


# -- fixtures (registered for the dashboard's tests by tests/dashboard/conftest.py) ----------
@pytest.fixture(scope="session")
def variety_schema() -> Iterator[str]:
    """A schema with every awkward table shape (see builders.py); dropped at the end."""
    with built_schema("variety", VARIETY_DDL) as schema:
        yield schema


@pytest.fixture(scope="session")
def many_schema() -> Iterator[str]:
    """A schema with a few hundred tables."""
    with built_schema("many", many_tables_ddl()) as schema:
        yield schema


@pytest.fixture
def use_schema(settings) -> Iterator[Callable[[str], None]]:
    """Return a function that points the console's target at a schema for this test."""

    def point_at(schema: str) -> None:
        settings.TARGET = {**settings.TARGET, "SCHEMA": schema}
        reflection.invalidate()

    settings.REFLECTION_CHECK_SECONDS = 0
    yield point_at
    reflection.invalidate()

"""Catalog questions, asked of a real schema with every awkward shape."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from dashboard.schema import catalog
from dashboard.target import run_read
from tests.dashboard.schema.builders import SCRIPT_COLUMN, SCRIPT_TABLE, owner_url


def read(work):
    return run_read(work)


def oid_of(schema: str, table: str) -> int:
    oid = read(lambda conn: catalog.table_oid(conn, schema, table))
    assert oid is not None, table
    return oid


def reltuples(schema: str, table: str) -> int:
    with psycopg.connect(owner_url()) as conn:
        row = conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            (sql.Identifier(schema, table).as_string(conn),),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_tables_lists_every_shape_with_estimates_and_rls(variety_schema):
    rows = {row["name"]: row for row in read(lambda c: catalog.tables(c, variety_schema))}
    assert set(rows) == {
        "user",
        "order",
        "country",
        "order_line",
        "line_note",
        "event_log",
        SCRIPT_TABLE,
    }
    assert rows["user"]["estimated_rows"] == reltuples(variety_schema, "user") == 25
    assert rows["event_log"]["estimated_rows"] == -1  # never analyzed: unknown, not zero
    assert rows["order"]["rls_enabled"] and rows["order"]["rls_forced"]
    assert not rows["user"]["rls_enabled"] and not rows["user"]["rls_forced"]
    assert rows["user"]["comment"] == "People who sign in"
    assert rows["user"]["column_count"] == 6


def test_search_matches_name_or_comment_literally(variety_schema):
    def names(search: str) -> list[str]:
        return [row["name"] for row in read(lambda c: catalog.tables(c, variety_schema, search))]

    assert names("ORD") == ["order", "order_line"]
    assert names("order_") == ["order_line"]  # `_` is not a wildcard
    assert names("%") == []
    assert names("sign in") == ["user"]  # the comment matches


def test_table_sizes_are_read_for_the_named_tables(variety_schema):
    sizes = read(lambda c: catalog.table_sizes(c, variety_schema, ["user", "event_log"]))
    assert set(sizes) == {"user", "event_log"}
    assert sizes["user"]["total_bytes"] >= sizes["user"]["index_bytes"] > 0
    assert sizes["event_log"]["index_bytes"] == 0  # no primary key, no index


def test_unknown_table_has_no_oid(variety_schema):
    assert read(lambda c: catalog.table_oid(c, variety_schema, "no_such_table")) is None
    assert read(lambda c: catalog.table_oid(c, variety_schema, "USER")) is None  # exact name


def test_columns_describe_types_identity_keys_and_comments(variety_schema):
    user_oid = oid_of(variety_schema, "user")
    user = {c["name"]: c for c in read(lambda c: catalog.columns(c, user_oid))}
    assert list(user) == ["id", "Display Name", "mood", "tags", "profile", "created_at"]
    assert user["id"]["type"] == "uuid" and user["id"]["in_primary_key"]
    assert user["id"]["has_default"] and not user["profile"]["has_default"]
    assert user["mood"]["type_kind"] == "enum"
    assert user["mood"]["enum_labels"] == ["calm", "busy", "on fire"]
    assert user["tags"]["type"] == "text[]" and user["tags"]["type_kind"] == "array"
    assert user["profile"]["type"] == "jsonb" and user["profile"]["nullable"]
    assert user["Display Name"]["comment"] == "Shown next to their orders"

    order_oid = oid_of(variety_schema, "order")
    order = {c["name"]: c for c in read(lambda c: catalog.columns(c, order_oid))}
    assert order["id"]["identity"] == "ALWAYS" and not order["id"]["has_default"]
    assert order["doubled"]["is_generated"] and not order["doubled"]["has_default"]
    assert order["user_id"]["in_foreign_key"] and not order["user_id"]["nullable"]
    assert order["total"]["type"] == "numeric(10,2)"
    assert "Status" in order


def test_column_expressions_give_defaults_and_generation_expressions(variety_schema):
    user = read(lambda c: catalog.column_expressions(c, oid_of(variety_schema, "user")))
    assert user == {
        "id": "gen_random_uuid()",
        "mood": f"'calm'::{variety_schema}.mood",  # the schema is not on the search path
        "tags": "'{}'::text[]",
        "created_at": "now()",
    }
    order = read(lambda c: catalog.column_expressions(c, oid_of(variety_schema, "order")))
    assert order == {"quantity": "1", "doubled": "(quantity * 2)"}


def test_constraints_give_composite_keys_and_definitions(variety_schema):
    line = read(lambda c: catalog.constraints(c, oid_of(variety_schema, "order_line")))
    assert [(c["kind"], c["columns"]) for c in line] == [("primary key", ["order_id", "line_no"])]
    order_oid = oid_of(variety_schema, "order")
    order = {c["name"]: c for c in read(lambda c: catalog.constraints(c, order_oid))}
    assert order["total_not_negative"]["kind"] == "check"
    assert order["total_not_negative"]["columns"] == ["total"]
    definitions = read(lambda c: catalog.constraint_definitions(c, order_oid))
    assert definitions["total_not_negative"] == "CHECK (total >= 0::numeric)"
    assert definitions["order_pkey"] == "PRIMARY KEY (id)"
    country = read(lambda c: catalog.constraints(c, oid_of(variety_schema, "country")))
    assert [c["kind"] for c in country] == ["primary key", "unique"]
    assert read(lambda c: catalog.constraints(c, oid_of(variety_schema, "event_log"))) == []


def test_foreign_keys_in_both_directions(variety_schema):
    note = read(lambda c: catalog.outgoing_foreign_keys(c, oid_of(variety_schema, "line_note")))
    assert [(k["name"], k["columns"], k["other_table"], k["other_columns"]) for k in note] == [
        ("line_note_line_fk", ["order_id", "line_no"], "order_line", ["order_id", "line_no"])
    ]
    order_oid = oid_of(variety_schema, "order")
    outgoing = read(lambda c: catalog.outgoing_foreign_keys(c, order_oid))
    assert [(k["other_table"], k["on_delete"]) for k in outgoing] == [("user", "CASCADE")]
    incoming = read(lambda c: catalog.incoming_foreign_keys(c, order_oid))
    assert [(k["other_table"], k["other_columns"], k["columns"]) for k in incoming] == [
        ("order_line", ["order_id"], ["id"])
    ]
    script_oid = oid_of(variety_schema, SCRIPT_TABLE)
    assert [
        k["other_table"] for k in read(lambda c: catalog.outgoing_foreign_keys(c, script_oid))
    ] == [SCRIPT_TABLE]
    assert [
        k["other_table"] for k in read(lambda c: catalog.incoming_foreign_keys(c, script_oid))
    ] == [SCRIPT_TABLE]


def test_indexes_triggers_and_policies(variety_schema):
    order_oid = oid_of(variety_schema, "order")
    indexes = {i["name"]: i for i in read(lambda c: catalog.indexes(c, order_oid))}
    assert indexes["order_pkey"]["is_primary"]
    assert indexes["order_pkey"]["constraint_name"] == "order_pkey"
    by_user = indexes["order_user_id_idx"]
    assert by_user["valid"] and not by_user["is_unique"] and by_user["constraint_name"] is None
    assert by_user["scans"] == 0
    definitions = read(lambda c: catalog.index_definitions(c, order_oid))
    assert definitions["order_user_id_idx"] == (
        f'CREATE INDEX order_user_id_idx ON {variety_schema}."order" USING btree (user_id)'
    )
    sizes = read(lambda c: catalog.index_sizes(c, order_oid))
    assert set(sizes) == {"order_pkey", "order_user_id_idx"} and sizes["order_pkey"] > 0

    [trigger] = read(lambda c: catalog.triggers(c, order_oid))
    assert (trigger["name"], trigger["state"]) == ("order_touch", "enabled")
    assert trigger["function"] == f"{variety_schema}.touch"  # not on the search path
    definition = read(lambda c: catalog.trigger_definitions(c, order_oid))["order_touch"]
    assert definition.startswith("CREATE TRIGGER order_touch BEFORE UPDATE ON")

    policies = {p["name"]: p for p in read(lambda c: catalog.policies(c, order_oid))}
    reads, writes = policies["order_owner_reads"], policies["order_owner_writes"]
    assert (reads["command"], reads["roles"], reads["permissive"]) == ("SELECT", ["todo_app"], True)
    assert writes["command"] == "INSERT"
    expressions = read(lambda c: catalog.policy_expressions(c, order_oid))
    using, check = expressions["order_owner_reads"]
    assert "current_setting('app.user_id'" in using and check is None
    using, check = expressions["order_owner_writes"]
    assert using is None and "current_setting('app.user_id'" in check


def test_diagram_questions_flag_keys_and_list_edges(variety_schema):
    columns = read(lambda c: catalog.diagram_columns(c, variety_schema, ["order_line"]))
    flags = {r["column_name"]: (r["in_primary_key"], r["in_foreign_key"]) for r in columns}
    assert flags == {
        "order_id": (True, True),
        "line_no": (True, False),
        "country_code": (False, True),
    }
    every = read(lambda c: catalog.diagram_columns(c, variety_schema))
    assert {r["table_name"] for r in every} >= {"user", SCRIPT_TABLE}
    assert SCRIPT_COLUMN in {r["column_name"] for r in every}
    edges = {
        (e["source"], e["target"])
        for e in read(lambda c: catalog.diagram_foreign_keys(c, variety_schema))
    }
    assert edges == {
        ("order", "user"),
        ("order_line", "order"),
        ("order_line", "country"),
        ("line_note", "order_line"),
        (SCRIPT_TABLE, SCRIPT_TABLE),
    }


@pytest.mark.parametrize("question", [catalog.tables, catalog.diagram_foreign_keys])
def test_an_empty_or_missing_schema_has_no_tables(question):
    assert read(lambda c: question(c, "schematest_does_not_exist")) == []

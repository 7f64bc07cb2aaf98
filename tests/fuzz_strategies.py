"""The values the request fuzz sends: hostile values, the Hypothesis strategies, and per route
the parameters its view reads (`PARAMETERS`) and the forms it takes by POST (`POST_FORMS`).

Drawn from a `World` (the real values of the fuzzed database); tests/request_fuzz.py builds
the world, turns these parameters into requests to every route, and judges the answers.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st


# -- what exists: the real values path parameters and parameters can take ----------------------
@dataclass
class World:
    """Real values of the database the requests go to."""

    columns: dict[str, list[tuple[str, str]]]  # table -> (column, kind), every column
    keys: dict[str, list[str]]  # table -> primary key columns
    subjects: list[str]
    queryids: list[int]
    revisions: list[str]
    job_ids: list[int]
    pids: list[int]
    rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # some keys per table
    branch_ids: list[str] = field(default_factory=list)


# -- hostile values ----------------------------------------------------------------------------
HOSTILE = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\u00b2",  # "²".isdigit() is True, int() refuses it
    "\u0663",  # Arabic-Indic three: int() reads it
    "\uff11\uff12",  # full-width 12
    "-1",
    "0",
    "-0",
    "+5",
    "1_000",
    "9" * 30,
    "-" + "9" * 30,
    "1" + "0" * 4400,  # past int()'s digit limit
    "1e999",
    "-1e999999999",
    "1e-999999999",
    "NaN",
    "Infinity",
    "-inf",
    "0x10",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00+14:00",
    "2025-02-30",
    "24:00",
    "25:61",
    "\r\n",
    "\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "%",
    "%00",
    "%2F",
    "..",
    "../../etc/passwd",
    "/",
    "?#",
    "'",
    '"',
    "\\",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "\u202e",
    "\ufffd",
    "\U0001f600",
    "a" * 5000,
    "true",
    "null",
    "notnull",
)

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.text(alphabet=string.digits + "-+.eE_: T", max_size=25),
)
numbers = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
    st.decimals(allow_nan=True).map(str),
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.times().map(lambda t: t.isoformat()),
)


def mostly(
    usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any], tenths: int
) -> st.SearchStrategy[Any]:
    """Draw from `usual` about `tenths` times in ten, else from `other`."""
    return st.integers(0, 9).flatmap(lambda n: usual if n < tenths else other)


def either(*real: Any) -> st.SearchStrategy[str]:
    """Values from `real` (strings or strategies) half of the time, else hostile ones."""
    hostile = st.one_of(st.sampled_from(HOSTILE), hostile_text, numbers, dates)
    if not real:
        return hostile
    strategies = [r if isinstance(r, st.SearchStrategy) else st.just(str(r)) for r in real]
    return mostly(st.one_of(*strategies), hostile, 5)


KIND_VALUES: dict[str, st.SearchStrategy[str]] = {
    "integer": numbers,
    "number": numbers,
    "date": dates,
    "timestamp": dates,
    "time": dates,
    "uuid": st.uuids().map(str),
    "boolean": st.sampled_from(["true", "false", "yes", "0", "maybe"]),
    "text": st.text(max_size=20),
}


def value_for(kind: str) -> st.SearchStrategy[str]:
    return st.one_of(KIND_VALUES.get(kind, st.text(max_size=10)), hostile_text)


Pairs = list[tuple[str, str]]
Params = Callable[["World", dict[str, str]], st.SearchStrategy[Pairs]]


def pairs(*items: tuple[str, st.SearchStrategy[str]]) -> st.SearchStrategy[Pairs]:
    """Some of the named parameters (any order, repeats allowed), each with a drawn value."""
    if not items:
        return st.just([])
    one = st.one_of(*(st.tuples(st.just(name), values) for name, values in items))
    return st.lists(one, max_size=6)


def no_params(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    return st.just([])


def fixed(*items: tuple[str, Callable[[World], st.SearchStrategy[str]]]) -> Params:
    def build(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
        return pairs(*((name, make(world)) for name, make in items))

    return build


def _text(world: World) -> st.SearchStrategy[str]:
    return either()


# -- the Data section: columns, order, filters, search, size, cursor, page, scope ---------------
OPS = ("eq", "gte", "lte", "prefix", "contains", "has", "null", "zz", "")


def _columns_of(world: World, table: str) -> list[tuple[str, str]]:
    return world.columns.get(table) or [("id", "integer")]


def signed_cursor(table: str, order: str) -> st.SearchStrategy[str]:
    """Cursors signed with the console's key (so they verify) carrying any payload."""
    from django.core import signing

    from dashboard.data.cursor import SALT

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), numbers
    )
    tagged = st.fixed_dictionaries(
        {},
        optional={
            tag: st.one_of(scalars, st.lists(st.integers(), max_size=4))
            for tag in ("f", "n", "ts", "d", "t", "iv", "u", "b", "zz")
        },
    )
    payload = st.fixed_dictionaries(
        {
            "t": st.one_of(st.just(table), st.text(max_size=5)),
            "o": st.one_of(st.just(order), st.just("-" + order), st.text(max_size=5)),
            "d": st.sampled_from(["next", "prev", "up"]),
            "k": st.lists(st.one_of(scalars, tagged), max_size=3),
        }
    )
    signed = payload.map(lambda p: signing.dumps(p, salt=SALT, compress=True))
    return st.one_of(signed, hostile_text, signed.map(lambda s: s[:-3] + "abc"))


def data_list_params(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    table = path.get("table", "")
    columns = _columns_of(world, table)
    names = [name for name, _ in columns]
    key = (world.keys.get(table) or [names[0]])[0]
    column = mostly(st.sampled_from(names), hostile_text, 9)  # an unknown column is a 404
    filter_pair = st.builds(
        lambda op, col_kind, value: (f"f.{op}.{col_kind[0]}", value),
        mostly(st.sampled_from(OPS[:7]), st.sampled_from(OPS[7:]), 9),
        mostly(st.sampled_from(columns), st.tuples(hostile_text, st.just("text")), 9),
        st.one_of(*(value_for(kind) for kind in sorted({k for _, k in columns}))),
    )
    listed = pairs(
        ("c", column),
        ("o", st.one_of(column, column.map(lambda c: "-" + c))),
        ("q", either("item", "fz")),
        ("in", column),
        ("n", either(25, 50, 100, 200)),
        ("page", either(1, 2, 3)),
        ("cursor", signed_cursor(table, key)),
    )
    return st.tuples(listed, st.lists(filter_pair, max_size=3), scope(world)).map(
        lambda t: t[0] + t[1] + t[2]
    )


def scope(world: World) -> st.SearchStrategy[Pairs]:
    """Sometimes a `scope_user` (most tables are not linked to the users table: a 404)."""
    return mostly(st.just([]), st.lists(st.tuples(st.just("scope_user"), _subjects(world))), 7)


def data_row_params(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    table = path.get("table", "")
    kinds = dict(_columns_of(world, table))
    keys = world.keys.get(table) or []
    rows = world.rows.get(table) or [{}]
    key_pairs = st.tuples(
        *(
            st.tuples(
                st.just(f"pk.{k}"),
                mostly(
                    st.sampled_from([str(row.get(k, "")) for row in rows]),
                    value_for(kinds.get(k, "text")),
                    7,
                ),
            )
            for k in keys
        )
    ).map(list)
    extra = pairs(("pk", either(1, 2)), ("pk.id", either(1, 2)))
    return st.tuples(key_pairs, extra, scope(world)).map(lambda t: t[0] + t[1] + t[2])


# -- the catalog: every route of the resolver, and what its view reads --------------------------
def _subjects(world: World) -> st.SearchStrategy[str]:
    return either(*world.subjects)


PARAMETERS: dict[str, Params] = {
    "login": fixed(("next", lambda w: either("/", "/data/", "//evil.example/", "javascript:x"))),
    "logout": no_params,
    "healthz": no_params,
    "home": fixed(("part", lambda w: either("facts"))),
    "overview_line": no_params,
    "health_check_start": no_params,
    "setup_checks": no_params,
    "job_detail": no_params,
    "schema:tables": fixed(
        ("q", lambda w: either("fz", "item")),
        ("sort", lambda w: either("name", "rows", "size")),
        ("page", lambda w: either(1, 2)),
    ),
    "schema:diagram": no_params,
    "schema:erd": no_params,
    "schema:table_erd": no_params,
    "schema:table": no_params,
    "data:index": fixed(("q", lambda w: either("fz", "items")), ("page", lambda w: either(1, 2))),
    "data:list": data_list_params,
    "data:count": data_list_params,
    "data:export": data_list_params,
    "data:row": data_row_params,
    "history:index": fixed(
        ("part", lambda w: either("drift", "pending", "history")), ("page", lambda w: either(1, 2))
    ),
    "history:revision": no_params,
    "history:revision_regenerate": no_params,
    "history:trials": no_params,
    "history:trial_start": no_params,
    "history:trial": no_params,
    "history:apply": no_params,
    "branches:list": fixed(("page", lambda w: either(1, 2))),
    "branches:create": no_params,
    "branches:job": no_params,
    "branches:detail": fixed(("part", lambda w: either("connection", "summary"))),
    "branches:reveal": no_params,
    "branches:diff": no_params,
    "branches:delete": no_params,
    "branches:reset": no_params,
    "queries:statements": fixed(
        ("window", lambda w: either("live", "1h", "24h", "7d")),
        ("sort", lambda w: either("total", "mean", "calls", "rows", "read", "hit", "temp")),
        ("q", lambda w: either("SELECT", "fz_items")),
        ("db", lambda w: either("*", "schemadesk_test")),
        ("user", lambda w: either("todo_owner")),
        ("min_calls", lambda w: either(1, 10)),
        ("min_mean", lambda w: either("0.5", 10)),
        ("page", lambda w: either(1, 2)),
        ("console", lambda w: either("1", "0")),
    ),
    "queries:indexes": no_params,
    "queries:activity": fixed(
        ("idle", lambda w: either("1", "0")),
        ("refresh", lambda w: either("off", "on")),
        ("console", lambda w: either("1", "0")),
    ),
    "queries:signal": no_params,
    "queries:health": fixed(("console", lambda w: either("1", "0"))),
    "queries:snapshots": no_params,
    "queries:reset": no_params,
    "queries:statement": fixed(("history", lambda w: either("1h", "24h", "7d"))),
    "queries:explain": no_params,
    "queries:explain_analyze": no_params,
    "queries:hypothetical": no_params,
    "users:find": fixed(("q", lambda w: either(*w.subjects, "fz_", "alice@example.com"))),
    "users:reason": fixed(
        ("subject", _subjects), ("next", lambda w: either("/data/fz_items/", "/users/"))
    ),
    "users:ownership": no_params,
    "users:isolation": no_params,
    "users:detail": fixed(("table", lambda w: either(*w.columns))),
    "users:export": no_params,
    "users:forget": no_params,
    "users:compare": fixed(
        ("branch", lambda w: either("main", "schemadesk_test__br__none")),
        ("table", lambda w: either(*w.columns)),
        ("kind", lambda w: either("deleted", "added", "changed")),
        ("cursor", lambda w: either("x")),
        ("job", lambda w: either(1, 2)),
        ("as_of", lambda w: either("2025-01-01T00:00")),
    ),
    "users:compare_as_of": no_params,
    "users:compare_discard": no_params,
    "users:restore": fixed(("branch", lambda w: either("main"))),
    "users:row_edit": data_row_params,
    "users:row_add": no_params,
    "users:row_delete": data_row_params,
    "audit:events": fixed(
        ("operator", _text),
        ("subject", _subjects),
        ("action", lambda w: either("user.view", "data.export")),
        ("since", lambda w: either("2025-01-01T00:00")),
        ("until", lambda w: either("2030-01-01T00:00")),
        ("after", lambda w: either(1, 2)),
        ("before", lambda w: either(1, 2)),
    ),
    "audit:event": no_params,
    "audit:revert": no_params,
    "audit:export": fixed(
        ("operator", _text),
        ("subject", _subjects),
        ("action", lambda w: either("user.view")),
        ("since", lambda w: either("2025-01-01T00:00")),
        ("until", lambda w: either("2030-01-01T00:00")),
    ),
}

# Form posts that only read (or only remember a reason): fuzzed with POST as well as GET.
EXPLAIN_FORM = ("mode", "p1", "p2", "p3", "p4")


def explain_form(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    """A value for each `$n` most of the time (else the view asks for the missing ones)."""
    values = st.one_of(numbers, dates, st.uuids().map(str), st.text(max_size=15), hostile_text)
    slots = st.tuples(*(st.tuples(st.just(p), values) for p in EXPLAIN_FORM[1:])).map(list)
    mode = st.tuples(st.just("mode"), either("plain", "generic")).map(lambda pair: [pair])
    every = st.tuples(mode, slots).map(lambda t: t[0] + t[1])
    return mostly(every, pairs(*((p, values) for p in EXPLAIN_FORM)), 8)


def reason_form(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    return pairs(
        ("reason", either("SUP-1 fuzzing", "ab")),
        ("subject", _subjects(world)),
        ("next", either("/data/fz_items/", "/users/")),
    )


def as_of_form(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    return pairs(("when", either("2025-01-01T00:00", "2999-01-01T00:00")), ("keep", either("on")))


def restore_form(world: World, path: dict[str, str]) -> st.SearchStrategy[Pairs]:
    return pairs(
        ("row", either("x")),
        ("table", either(*world.columns)),
        ("step", either("preview", "apply")),
        ("digest", either("0" * 32)),
        ("reason", either("SUP-1 fuzzing")),
    )


POST_FORMS: dict[str, Params] = {
    "users:compare_as_of": as_of_form,
    "users:compare_discard": lambda world, path: pairs(("branch", either("main"))),
    "users:restore": restore_form,
    "queries:explain": explain_form,
    "queries:hypothetical": explain_form,
    "users:detail": reason_form,
    "users:reason": reason_form,
}

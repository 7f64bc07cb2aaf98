"""Reading two schema dumps: a column order change is told apart from a real difference."""

from __future__ import annotations

from dashboard.history.trial_verdict import (
    COLUMN_ORDER_DIFFERS,
    FAILED,
    NOTHING_PENDING,
    ROUND_TRIP_DIFFERS,
    SUCCEEDED,
    compare_schemas,
    trial_outcome,
)

BEFORE = """CREATE TABLE public.items (
    id bigint NOT NULL,
    name text NOT NULL,
    note text
);
CREATE TABLE public.tags (
    id bigint NOT NULL
);
ALTER TABLE ONLY public.items
    ADD CONSTRAINT items_pkey PRIMARY KEY (id);
CREATE INDEX ix_items_name ON public.items USING btree (name);
"""


def test_only_the_column_order_differs():
    after = BEFORE.replace(
        "    name text NOT NULL,\n    note text\n", "    note text,\n    name text NOT NULL\n"
    )
    comparison = compare_schemas(BEFORE, after)
    assert comparison.column_order_only and comparison.differences == []
    (sentence,) = comparison.reordered
    assert sentence.startswith("items: the columns are in another order (id, note, name instead")
    assert compare_schemas(BEFORE, BEFORE).same


def test_real_differences_are_named():
    after = (
        BEFORE.replace("    note text\n", "    note character varying(20),\n    extra integer\n")
        .replace("CREATE INDEX ix_items_name ON public.items USING btree (name);\n", "")
        .replace("CREATE TABLE public.tags (\n    id bigint NOT NULL\n);\n", "")
    )
    comparison = compare_schemas(BEFORE, after)
    assert not comparison.column_order_only
    assert comparison.differences == [
        "items: note text became note character varying(20)",
        "items: extra integer was left behind",
        "table tags is missing",
        "missing: CREATE INDEX ix_items_name ON public.items USING btree (name)",
    ]


def test_outcomes():
    order = {"direction": "downgrade", "ok": True, "column_order": ["items: …"]}
    broken = {"direction": "downgrade", "ok": True, "schema_mismatch": "-x", "differences": ["…"]}

    def outcome(**kwargs: object) -> str:
        base = {
            "error": "",
            "revisions": ["002"],
            "round_trip": True,
            "steps": [],
            "round_trip_differences": [],
            "round_trip_reordered": [],
        }
        return trial_outcome(**{**base, **kwargs})  # type: ignore[arg-type]

    assert outcome(revisions=[]) == NOTHING_PENDING
    assert outcome(error="Upgrade of 002 failed") == FAILED
    assert outcome() == SUCCEEDED
    assert outcome(steps=[order]) == COLUMN_ORDER_DIFFERS
    assert outcome(steps=[order, broken]) == ROUND_TRIP_DIFFERS
    assert outcome(round_trip_differences=["table tags is missing"]) == ROUND_TRIP_DIFFERS
    assert outcome(round_trip=False, steps=[broken]) == SUCCEEDED  # no round trip asked for

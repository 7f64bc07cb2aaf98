"""Catalog questions about the target schema, one named function per question.

Every function takes an open connection (from `run_read`) and returns plain dicts. Values are
always bound; names of schemas and tables are compared with catalog columns, never spliced into
SQL. Two kinds of question wait behind an ACCESS EXCLUSIVE lock on the table (a running ALTER
TABLE) until `lock_timeout`: sizes (`pg_*_size()` open the relation) and definitions rendered by
`pg_get_expr()`, `pg_get_constraintdef()`, `pg_get_indexdef()` and `pg_get_triggerdef()`. They are
kept apart from the lock-free questions (which read the catalog tables only), so that a locked
table costs its sizes and definitions while its columns, keys and indexes still show.

The questions live in `catalog_schema` (schema-wide), `catalog_structure` (per table, lock-free)
and `catalog_definitions` (per table, waiting behind locks); they are re-exported here.
"""

from __future__ import annotations

from dashboard.schema.catalog_definitions import (  # re-exported
    column_expressions,
    constraint_definitions,
    index_definitions,
    index_sizes,
    policy_expressions,
    table_size,
    trigger_definitions,
)
from dashboard.schema.catalog_rows import Row  # re-exported
from dashboard.schema.catalog_schema import (  # re-exported
    diagram_columns,
    diagram_foreign_keys,
    table_oid,
    table_sizes,
    tables,
)
from dashboard.schema.catalog_structure import (  # re-exported
    FOREIGN_KEY_ACTIONS,
    columns,
    constraints,
    incoming_foreign_keys,
    indexes,
    outgoing_foreign_keys,
    policies,
    table_facts,
    triggers,
)

__all__ = [
    "FOREIGN_KEY_ACTIONS",
    "Row",
    "column_expressions",
    "columns",
    "constraint_definitions",
    "constraints",
    "diagram_columns",
    "diagram_foreign_keys",
    "incoming_foreign_keys",
    "index_definitions",
    "index_sizes",
    "indexes",
    "outgoing_foreign_keys",
    "policies",
    "policy_expressions",
    "table_facts",
    "table_oid",
    "table_size",
    "table_sizes",
    "tables",
    "trigger_definitions",
    "triggers",
]

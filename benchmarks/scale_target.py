"""The schema-scale benchmark's target: 1,000 tables of about 15 columns, with rows.

Deterministic (a seeded random picks names, depths and columns), built with plain DDL and
`INSERT … SELECT` as the tables' owner, on top of the application's Alembic head (users, tasks,
conversations, messages):

- 300 tables owned by users: `tasks`, `conversations` and `messages` plus 297 generated ones
  hanging from `users` through foreign-key chains 1 to 4 deep (about 100, 90, 60 and 47 per
  depth); every user has rows in every one of them (3 per user and table at depth 1, then one
  child per parent row);
- 200 lookup tables (50 rows each) that owned and unrelated tables reference;
- 499 unrelated tables (200 rows each), many referencing one or two others;

about 1,500 foreign keys and 3,000 indexes in all. A few owner columns have no index and a few
owned tables have row-level security, so the isolation report has something to say.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import psycopg
import psycopg.sql

USERS = 1000
ROWS_PER_USER = 3
LOOKUP_ROWS = 50
UNRELATED_ROWS = 200
OWNED_PER_DEPTH = (100, 90, 60, 47)  # generated owned tables at depth 1..4 (+3 core ones)
LOOKUPS = 200
UNRELATED = 499
SEED = 15

NOUNS = (
    "account", "address", "alert", "answer", "asset", "badge", "basket", "bill", "booking",
    "budget", "campaign", "card", "cart", "charge", "claim", "comment", "contact", "contract",
    "coupon", "credit", "device", "document", "draft", "entry", "event", "expense", "feed",
    "file", "folder", "goal", "grant", "habit", "invoice", "item", "journal", "label", "lead",
    "ledger", "like", "list", "login", "mandate", "match", "meeting", "memo", "metric", "note",
    "offer", "order", "page", "payment", "photo", "pin", "plan", "playlist", "poll", "post",
    "quote", "rating", "receipt", "refund", "reminder", "report", "review", "reward", "route",
    "rule", "score", "session", "share", "shift", "sketch", "slot", "snippet", "story",
    "subscription", "survey", "tag", "ticket", "token_grant", "topic", "trip", "upload",
    "visit", "vote", "wallet", "watch", "widget", "wish", "workout",
)  # fmt: skip
LOOKUP_NOUNS = (
    "country", "currency", "language", "timezone", "category", "channel", "colour", "unit",
    "region", "segment", "source", "tier", "status_code", "reason_code", "carrier", "brand",
    "industry", "plan_kind", "tax_rate", "warehouse",
)  # fmt: skip
UNRELATED_NOUNS = (
    "batch", "cache_entry", "cron_run", "dataset", "deployment", "export_job", "feature_flag",
    "import_job", "integration", "job_log", "kv_setting", "metric_rollup", "migration_note",
    "outbox", "partner", "price_list", "queue_item", "rate_card", "release", "sync_cursor",
    "supplier", "template", "webhook", "worker_lease",
)  # fmt: skip
STATUSES = ("'draft'", "'open'", "'active'", "'done'", "'archived'")

# Value expressions over the generate_series/row number `g`, one per extra column kind.
VALUE_COLUMNS = (
    ("title", "text NOT NULL", "'title ' || g"),
    ("note", "varchar(200)", "CASE WHEN g % 4 = 0 THEN NULL ELSE 'note about ' || g END"),
    ("amount", "numeric(12,2)", "(g % 10000) / 7.0"),
    ("quantity", "integer", "g % 97"),
    ("is_active", "boolean NOT NULL DEFAULT true", "g % 3 <> 0"),
    (
        "status",
        f"text NOT NULL DEFAULT 'open' CHECK (status IN ({', '.join(STATUSES)}))",
        f"(ARRAY[{', '.join(STATUSES)}])[1 + g % 5]",
    ),
    (
        "created_at",
        "timestamptz NOT NULL DEFAULT now()",
        "timestamptz '2024-01-01' + g * interval '7 minutes'",
    ),
    ("updated_at", "timestamptz", "timestamptz '2024-02-01' + g * interval '5 minutes'"),
    ("due_on", "date", "date '2025-01-01' + (g % 365)::integer"),
    ("payload", "jsonb", "jsonb_build_object('n', g, 'kind', 'k' || (g % 7))"),
    ("external_ref", "uuid", "md5(g::text)::uuid"),
    ("tags", "text[]", "ARRAY['t' || (g % 11), 't' || (g % 13)]"),
    ("score", "double precision", "g * 0.37"),
)


@dataclass
class TableSpec:
    """One generated table: its name, kind, depth, references and extra columns."""

    name: str
    kind: str  # owned, lookup, unrelated
    depth: int = 0  # owned: hops to users
    parent: str = ""  # owned: the table its owner column references (users at depth 1)
    lookups: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # unrelated: other unrelated tables
    values: list[tuple[str, str, str]] = field(default_factory=list)
    owner_indexed: bool = True
    rls: bool = False

    @property
    def owner_column(self) -> str:
        return "user_id" if self.depth == 1 else f"{self.parent}_id"


def _names(nouns: tuple[str, ...], count: int, prefix: str, taken: set[str]) -> list[str]:
    names: list[str] = []
    number = 0
    while len(names) < count:
        noun = nouns[number % len(nouns)]
        name = f"{prefix}{noun}_{number // len(nouns) + 1:02d}"
        number += 1
        if name not in taken:
            taken.add(name)
            names.append(name)
    return names


def table_specs(seed: int = SEED) -> list[TableSpec]:
    """Return the 996 generated tables in creation order (parents before children)."""
    rng = random.Random(seed)
    taken: set[str] = {"users", "tasks", "conversations", "messages", "alembic_version"}
    lookups = [TableSpec(n, "lookup") for n in _names(LOOKUP_NOUNS, LOOKUPS, "lk_", taken)]
    owned: list[TableSpec] = []
    owned_names = _names(NOUNS, sum(OWNED_PER_DEPTH), "", taken)
    previous_level: list[str] = ["users"]
    position = 0
    for depth, count in enumerate(OWNED_PER_DEPTH, start=1):
        level = []
        for _ in range(count):
            name = owned_names[position]
            position += 1
            parent = "users" if depth == 1 else rng.choice(previous_level)
            spec = TableSpec(name, "owned", depth=depth, parent=parent)
            spec.lookups = rng.sample([t.name for t in lookups], k=rng.choice((1, 1, 2)))
            spec.values = rng.sample(VALUE_COLUMNS, k=15 - 2 - len(spec.lookups))
            spec.values.sort(key=VALUE_COLUMNS.index)
            spec.owner_indexed = rng.random() > 0.04
            spec.rls = rng.random() < 0.1
            level.append(spec)
        owned.extend(level)
        previous_level = [spec.name for spec in level]
    unrelated: list[TableSpec] = []
    for name in _names(UNRELATED_NOUNS, UNRELATED, "", taken):
        spec = TableSpec(name, "unrelated")
        earlier = [t.name for t in unrelated]
        spec.peers = rng.sample(earlier, k=min(len(earlier), rng.choice((0, 1, 1, 2, 2))))
        spec.lookups = rng.sample([t.name for t in lookups], k=rng.choice((0, 0, 1)))
        spec.values = rng.sample(
            VALUE_COLUMNS, k=min(len(VALUE_COLUMNS), 14 - len(spec.peers) - len(spec.lookups))
        )
        spec.values.sort(key=VALUE_COLUMNS.index)
        unrelated.append(spec)
    for spec in lookups:
        spec.values = [v for v in VALUE_COLUMNS if v[0] != "title"][:12]
    return lookups + owned + unrelated


def _q(name: str) -> str:
    return psycopg.sql.Identifier(name).as_string(None)


def table_ddl(spec: TableSpec) -> list[str]:
    """Return the statements that create, fill and index one generated table."""
    t = _q(spec.name)
    columns = []
    inserts: list[tuple[str, str]] = []  # (column, expression)
    if spec.kind == "lookup":
        columns += ["id integer PRIMARY KEY", "code text NOT NULL UNIQUE", "name text NOT NULL"]
        inserts += [("id", "g"), ("code", f"'{spec.name[3:]}_' || g"), ("name", "'Name ' || g")]
        source = f"generate_series(1, {LOOKUP_ROWS}) AS g"
    elif spec.kind == "owned":
        columns.append("id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
        if spec.depth == 1:
            columns.append("user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE")
            inserts.append(("user_id", "p.id"))
            source = (
                f"(SELECT u.id, row_number() OVER (ORDER BY u.id, r) AS g FROM users AS u "
                f"CROSS JOIN generate_series(1, {ROWS_PER_USER}) AS r) AS p"
            )
        else:
            columns.append(
                f"{_q(spec.owner_column)} bigint NOT NULL "
                f"REFERENCES {_q(spec.parent)} (id) ON DELETE CASCADE"
            )
            inserts.append((spec.owner_column, "p.id"))
            source = f"(SELECT id, id AS g FROM {_q(spec.parent)}) AS p"
    else:
        columns.append("id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
        source = f"generate_series(1, {UNRELATED_ROWS}) AS g"
        for peer in spec.peers:
            columns.append(f"{_q(peer + '_id')} bigint REFERENCES {_q(peer)} (id)")
            inserts.append((peer + "_id", f"1 + g % {UNRELATED_ROWS}"))
    for lookup in spec.lookups:
        columns.append(f"{_q(lookup + '_id')} integer REFERENCES {_q(lookup)} (id)")
        inserts.append((lookup + "_id", f"1 + g % {LOOKUP_ROWS}"))
    for name, definition, expression in spec.values:
        columns.append(f"{_q(name)} {definition}")
        inserts.append((name, expression))
    statements = [f"CREATE TABLE {t} ({', '.join(columns)})"]
    statements.append(
        f"INSERT INTO {t} ({', '.join(_q(c) for c, _ in inserts)}) "
        f"SELECT {', '.join(e for _, e in inserts)} FROM {source}"
    )
    indexed = []
    if spec.kind == "owned" and spec.owner_indexed:
        indexed.append((spec.owner_column,))
    indexed += [(peer + "_id",) for peer in spec.peers]
    indexed += [(lookup + "_id",) for lookup in spec.lookups]
    if spec.kind == "lookup":
        indexed.append(("name",))
    value_names = [name for name, _, _ in spec.values]
    if "created_at" in value_names:
        indexed.append(("created_at",))
    elif "status" in value_names:
        indexed.append(("status",))
    for number, key in enumerate(indexed):
        statements.append(
            f"CREATE INDEX {_q(f'ix_{spec.name}_{number}')} ON {t} ({', '.join(map(_q, key))})"
        )
    if spec.rls:
        statements.append(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    if spec.kind == "lookup":
        statements.append(f"COMMENT ON TABLE {t} IS 'Lookup values: {spec.name[3:]}'")
    return statements


def build_target(owner_url: str, progress=print) -> int:
    """Create and fill the generated tables (on the Alembic head); return how many."""
    specs = table_specs()
    with psycopg.connect(owner_url) as conn:
        users = conn.execute("SELECT count(*) FROM users").fetchone()[0]  # type: ignore[index]
        if users < USERS:
            raise RuntimeError(f"the users table holds {users} rows, {USERS} are needed")
        for number, spec in enumerate(specs, start=1):
            for statement in table_ddl(spec):
                conn.execute(statement)
            if number % 100 == 0:
                conn.commit()
                progress(f"  {number} of {len(specs)} tables")
        conn.commit()
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return len(specs)


def target_counts(owner_url: str) -> dict[str, int]:
    """Return the target schema's tables, foreign keys and indexes (what the README quotes)."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            """
            SELECT
                (SELECT count(*) FROM pg_class
                 WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')
                   AND relname <> 'alembic_version'),
                (SELECT count(*) FROM pg_constraint
                 WHERE connamespace = 'public'::regnamespace AND contype = 'f'),
                (SELECT count(*) FROM pg_class
                 WHERE relnamespace = 'public'::regnamespace AND relkind = 'i'),
                (SELECT count(*) FROM pg_attribute AS a
                 JOIN pg_class AS c ON c.oid = a.attrelid
                 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
                   AND a.attnum > 0 AND NOT a.attisdropped)
            """
        ).fetchone()
    tables, foreign_keys, indexes, columns = row  # type: ignore[misc]
    return {"tables": tables, "foreign_keys": foreign_keys, "indexes": indexes, "columns": columns}

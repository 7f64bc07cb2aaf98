"""The schema-scale benchmark's audit trail: a million events that form a valid hash chain.

Events are appended the way the chain allows, only faster: under the same transaction-level
advisory lock the console takes for every append (so no console process can write between
them), the last event's hash is read, each new event's hash is computed in Python with the
console's own `event_hash` and key, and the rows go in by COPY, in chain order (ids grow with
the chain). The COPY runs as the cluster's superuser: the console's role may INSERT too, but
one role for the whole bulk load keeps it simple and the trigger refuses only UPDATE, DELETE
and TRUNCATE. `audit_verify` accepts the result.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

ACTIONS = (
    "user.view", "user.view", "user.view", "data.list", "data.list", "data.row", "user.search",
    "data.export", "user.export", "schema.view", "branches.reveal", "queries.explain_analyze",
    "migrations.sql_regenerate", "audit.export",
)  # fmt: skip
OPERATORS = ("bench-admin", "bench-support-1", "bench-support-2", "bench-support-3")
START = datetime(2023, 7, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
SEED = 15


def append_events(
    superuser_url: str,
    count: int,
    operators: dict[str, int],
    subjects: list[str],
    tables: list[str],
    hot_subject: str,
    progress=print,
) -> float:
    """Append `count` chained events; return the seconds it took."""
    from dashboard.audit.chain import APPEND_LOCK, GENESIS, chain_key, event_hash

    rng = random.Random(SEED)
    key = chain_key()
    started = time.perf_counter()
    step = SPAN / max(count, 1)
    names = list(operators)
    columns = (
        "at, operator_id, operator_name, action, subject_user, tables, reason, "
        "client_address, detail, prev_hash, hash"
    )
    with psycopg.connect(superuser_url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", APPEND_LOCK)
        last = conn.execute(
            "SELECT hash, at FROM django.audit_auditevent ORDER BY id DESC LIMIT 1"
        ).fetchone()
        previous = last[0] if last else GENESIS
        at = max(last[1], START) if last else START
        with conn.cursor().copy(f"COPY django.audit_auditevent ({columns}) FROM STDIN") as copy:
            for number in range(count):
                at = at + step
                action = rng.choice(ACTIONS)
                # One end-user in twenty events is the same one: a busy support case.
                subject = hot_subject if number % 20 == 0 else rng.choice(subjects)
                if not action.startswith(("user.", "data.")):
                    subject = ""
                operator = names[number % len(names)]
                shown = rng.sample(tables, k=1 + number % 3)
                detail = {"rows": {shown[0]: {"count": number % 50, "first": number % 997}}}
                values = {
                    "at": at,
                    "operator_id": operators[operator],
                    "operator_name": operator,
                    "action": action,
                    "subject_user": subject,
                    "tables": shown,
                    "reason": f"SUP-{1000 + number % 9000} customer asked",
                    "client_address": f"10.0.{number % 250}.{1 + number % 200}",
                    "detail": detail,
                }
                digest = event_hash(previous, values, key)
                copy.write_row(
                    (
                        at,
                        values["operator_id"],
                        operator,
                        action,
                        subject,
                        shown,
                        values["reason"],
                        values["client_address"],
                        Jsonb(detail),
                        previous,
                        digest,
                    )
                )
                previous = digest
                if number and number % 100_000 == 0:
                    progress(f"  {number:,} audit events")
        conn.commit()
    with psycopg.connect(superuser_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) django.audit_auditevent")
    return time.perf_counter() - started

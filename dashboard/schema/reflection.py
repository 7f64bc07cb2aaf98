"""Reflected metadata of the target schema, cached and refreshed when the schema changes.

Reflection of hundreds of tables takes a while, so it is kept per process and re-done only when
a cheap fingerprint of the catalog (tables, columns, defaults, constraints, indexes, policies,
enum labels, comments) changes. The fingerprint is checked at most every
`REFLECTION_CHECK_SECONDS`. Reflecting is single-flight: one request reflects while the others
of the process wait for its result, never a second reflection at once. The reflected metadata is
built with the garbage collector paused and then frozen (dashboard/long_lived.py).
Identifiers used in SQL against user tables come only from this metadata.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.http import Http404
from sqlalchemy import Connection, MetaData, Table, text
from sqlalchemy.exc import SAWarning

from dashboard.long_lived import collector_paused, freeze_long_lived
from dashboard.target import run_read, target_schema

logger = logging.getLogger(__name__)

FINGERPRINT_SQL = text(
    """
    SELECT md5(coalesce(string_agg(item, '|' ORDER BY item), '')) AS fingerprint
    FROM (
        SELECT format('c:%s:%s:%s:%s', c.oid, c.relname, c.relkind, c.relrowsecurity) AS item
        FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = to_regnamespace(quote_ident(:schema))
        UNION ALL
        SELECT format('a:%s:%s:%s:%s:%s:%s:%s', a.attrelid, a.attnum, a.attname, a.atttypid,
                      a.atttypmod, a.attnotnull, a.atthasdef)
        FROM pg_catalog.pg_attribute AS a
        JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
        WHERE c.relnamespace = to_regnamespace(quote_ident(:schema))
          AND a.attnum > 0
          AND NOT a.attisdropped
        UNION ALL
        SELECT format('f:%s', ad.oid)
        FROM pg_catalog.pg_attrdef AS ad
        JOIN pg_catalog.pg_class AS c ON c.oid = ad.adrelid
        WHERE c.relnamespace = to_regnamespace(quote_ident(:schema))
        UNION ALL
        SELECT format('k:%s:%s', con.oid, con.conname)
        FROM pg_catalog.pg_constraint AS con
        WHERE con.connamespace = to_regnamespace(quote_ident(:schema))
        UNION ALL
        SELECT format('p:%s:%s', pol.oid, pol.polname)
        FROM pg_catalog.pg_policy AS pol
        JOIN pg_catalog.pg_class AS c ON c.oid = pol.polrelid
        WHERE c.relnamespace = to_regnamespace(quote_ident(:schema))
        UNION ALL
        SELECT format('e:%s:%s', e.enumtypid, e.enumlabel)
        FROM pg_catalog.pg_enum AS e
        JOIN pg_catalog.pg_type AS t ON t.oid = e.enumtypid
        WHERE t.typnamespace = to_regnamespace(quote_ident(:schema))
        UNION ALL
        SELECT format('d:%s:%s', d.objoid, md5(d.description))
        FROM pg_catalog.pg_description AS d
        JOIN pg_catalog.pg_class AS c ON c.oid = d.objoid
        WHERE c.relnamespace = to_regnamespace(quote_ident(:schema))
    ) AS items
    """
)


@dataclass(frozen=True)
class Reflection:
    """One reflection of the target schema."""

    metadata: MetaData
    fingerprint: str
    schema: str
    reflected_at: float

    @cached_property  # asked several times per request; at 1,000 tables, not free
    def tables(self) -> dict[str, Table]:
        """Return the tables by their bare name (without the schema); read-only."""
        return {table.name: table for table in self.metadata.tables.values()}


class UnknownTable(Http404):
    """A table name that is not in the reflected schema."""


class UnknownColumn(Http404):
    """A column name that is not in the reflected table."""


_lock = threading.Lock()


@dataclass
class _Cached:
    reflection: Reflection | None = None
    checked_at: float = 0.0  # time.monotonic() of the last fingerprint check
    built: bool = False  # whether this process has built one before


_state = _Cached()


def schema_fingerprint(conn: Connection, schema: str) -> str:
    """Return a hash of the schema's catalog entries; it changes when the schema changes."""
    return str(conn.execute(FINGERPRINT_SQL, {"schema": schema}).scalar_one())


def _reflect(conn: Connection, schema: str) -> Reflection:
    fingerprint = schema_fingerprint(conn, schema)
    metadata = MetaData()
    started = time.perf_counter()
    with warnings.catch_warnings(), collector_paused():
        # Types SQLAlchemy does not know (e.g. ltree) reflect as NullType; that is fine here.
        warnings.simplefilter("ignore", SAWarning)
        metadata.reflect(bind=conn, schema=schema, views=False, resolve_fks=False)
    logger.info(
        "reflected %d tables of schema %s in %.0f ms",
        len(metadata.tables),
        schema,
        (time.perf_counter() - started) * 1000,
    )
    return Reflection(metadata, fingerprint, schema, time.time())


def reflection(force: bool = False) -> Reflection:
    """Return the cached reflection, re-reflecting if the schema's fingerprint changed."""
    schema = target_schema()
    interval = float(getattr(settings, "REFLECTION_CHECK_SECONDS", 10))
    with _lock:
        current = _state.reflection
        fresh_enough = time.monotonic() - _state.checked_at < interval
        if current is not None and current.schema == schema and fresh_enough and not force:
            return current

        def refresh(conn: Connection) -> Reflection:
            if (
                current is not None
                and current.schema == schema
                and not force
                and schema_fingerprint(conn, schema) == current.fingerprint
            ):
                return current
            return _reflect(conn, schema)

        result = run_read(refresh, timeout_ms=60_000)
        _state.reflection = result
        _state.checked_at = time.monotonic()
        if result is not current:
            current = None  # (the closure's cell too) so that the old metadata is garbage now
            # The first build of the process has nothing to free; later ones replace one.
            freeze_long_lived(replaced=_state.built)
            _state.built = True
        return result


def invalidate() -> None:
    """Forget the cached reflection (the next call reflects again)."""
    with _lock:
        _state.reflection = None
        _state.checked_at = 0.0


def table_named(name: str) -> Table:
    """Return the reflected table called `name`, or raise UnknownTable (a 404)."""
    table = reflection().tables.get(name)
    if table is None:
        raise UnknownTable(f"There is no table called “{name}” in schema “{target_schema()}”.")
    return table


def column_named(table: Table, name: str):
    """Return the column `name` of `table`, or raise UnknownColumn (a 404)."""
    if name not in table.c:
        raise UnknownColumn(f"The table “{table.name}” has no column called “{name}”.")
    return table.c[name]

"""The audit trail's hash chain: what an event's hash covers and how it is computed.

Each event stores `prev_hash` (the hash of the event before it, in id order; zeros for the
first) and `hash` = HMAC-SHA256(key, prev_hash + canonical content). The key is the console's
(`AUDIT_CHAIN_KEY`, else derived from `SECRET_KEY`) and never reaches the database: someone who
can write the table but does not hold the key (a database superuser, a stolen backup restored
elsewhere) cannot recompute the chain after changing or deleting an event, so the change shows.

The canonical content is built from the values as they come back from the database, so that
the hash computed before the insert and the one recomputed when verifying agree: JSON numbers
are compared as decimals (jsonb keeps `1e16` as `10000000000000000`), addresses as parsed IP
addresses, times as UTC with microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

GENESIS = "0" * 64
FORMAT = "schemadesk-audit-v1"
# The fields an event's hash covers, in order (the id is not one: the chain orders events).
CHAIN_FIELDS = (
    "at",
    "operator_id",
    "operator_name",
    "action",
    "subject_user",
    "tables",
    "reason",
    "client_address",
    "detail",
)
# pg_advisory_xact_lock(int4, int4) key of the append: one writer at a time extends the chain.
APPEND_LOCK = (0x5D5C_A0D1, 1)


def chain_key() -> bytes:
    """Return the HMAC key of the chain (AUDIT_CHAIN_KEY, else derived from SECRET_KEY)."""
    configured = settings.AUDIT_CHAIN_KEY
    if configured:
        return configured.encode()
    return hashlib.sha256(b"schemadesk audit chain\0" + settings.SECRET_KEY.encode()).digest()


def _number(value: int | float) -> str:
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _canonical_json(value: Any) -> str:
    if value is None or isinstance(value, bool | str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        items = sorted(((str(key), item) for key, item in value.items()), key=lambda kv: kv[0])
        return "{" + ",".join(f"{json.dumps(k)}:{_canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical_json(item) for item in value) + "]"
    raise TypeError(f"audit detail cannot hold {type(value).__name__}")


def stored_detail(detail: Any) -> Any:
    """Return `detail` as the database will give it back (JSON types only)."""
    return json.loads(json.dumps(detail if detail is not None else {}))


def _address(value: str | None) -> str | None:
    return str(ipaddress.ip_address(str(value))) if value else None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(values: Mapping[str, Any]) -> bytes:
    """Return the bytes an event's hash covers, from its CHAIN_FIELDS values."""
    content = [
        FORMAT,
        _time(values["at"]),
        values["operator_id"],
        str(values["operator_name"]),
        str(values["action"]),
        str(values["subject_user"]),
        [str(table) for table in values["tables"] or ()],
        str(values["reason"]),
        _address(values["client_address"]),
        stored_detail(values["detail"]),
    ]
    return _canonical_json(content).encode()


def event_hash(prev_hash: str, values: Mapping[str, Any], key: bytes | None = None) -> str:
    """Return the hash of an event whose predecessor's hash is `prev_hash`."""
    message = prev_hash.encode() + b"\n" + canonical_content(values)
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def check_signature(values: Mapping[str, Any], key: bytes | None = None) -> str:
    """Return the keyed signature of a verification record (see ChainCheck).

    The console's role owns the table of verification records; without the key it cannot
    write one that vouches for a forged event (a checkpoint past it, a full verification that
    found nothing)."""
    content = [
        FORMAT,
        "check",
        _time(values["checked_at"]),
        bool(values["full"]),
        values["through_id"],
        str(values["through_hash"]),
        values["events"],
        values["broken_id"],
        str(values["problem"]),
    ]
    message = _canonical_json(content).encode()
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()

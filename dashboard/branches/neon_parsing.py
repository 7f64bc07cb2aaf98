"""Tolerant readers of Neon API answers (typed fields, dates) and URI password redaction."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dashboard.branches.neon_errors import NeonProtocolError

_URI_PASSWORD = re.compile(r"(?P<head>postgres(?:ql)?://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value != "" else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    return data.get(key) is True


def _dt(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _required(data: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping) or not isinstance(value.get("id", ""), str):
        raise NeonProtocolError(f"Neon answered without the expected {what}; try again later.")
    return value


def _rfc3339(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def redact_uri(uri: str) -> str:
    """Return a Postgres URI with its password replaced by ***."""
    return _URI_PASSWORD.sub(r"\g<head>***@", uri)


def _with_host(uri: str, host: str) -> str:
    parts = urlsplit(uri)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    port = ""
    if ":" in hostport and not hostport.endswith("]"):
        port = ":" + hostport.rsplit(":", 1)[1]
    netloc = (userinfo + "@" if userinfo else "") + host + port
    return urlunsplit(parts._replace(netloc=netloc))

"""Writing audit events."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from dashboard.audit.models import AuditEvent


def client_address(request: HttpRequest) -> str:
    """Return the client's IP address (the proxy's X-Forwarded-For only behind a TLS proxy).

    A client may send X-Forwarded-For itself; the proxy appends the address it saw. Only the
    last entry is the proxy's word: the first is whatever the client wrote (it would let an
    operator choose the address of their audit events, and a guesser a fresh address for
    every login attempt)."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            address = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return ""


def record(
    request: HttpRequest,
    action: str,
    *,
    subject_user: str = "",
    tables: Iterable[str] = (),
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event for the operator behind `request` and return it."""
    operator = request.user if request.user.is_authenticated else None
    return AuditEvent.objects.create(
        operator=operator,
        operator_name=operator.get_username() if operator else "(anonymous)",
        action=action,
        subject_user=subject_user,
        tables=sorted(set(tables)),
        reason=reason.strip(),
        client_address=client_address(request) or None,
        detail=detail or {},
    )


def record_system(operator_name: str, action: str, *, detail: dict[str, Any]) -> AuditEvent:
    """Write one audit event of the console's own scheduled work (no operator, no request)."""
    return AuditEvent.objects.create(
        operator=None, operator_name=operator_name, action=action, detail=detail
    )

"""The Neon client's result models and error sentences, without a server."""

from __future__ import annotations

import pytest

from dashboard.branches.neon_errors import NeonApiError
from dashboard.branches.neon_models import Branch, ConnectionUri, Operation


def test_parsing_ignores_unknown_fields_and_bad_values() -> None:
    branch = Branch.from_api(
        {
            "id": "br-x",
            "project_id": "p",
            "name": "n",
            "current_state": "ready",
            "created_at": "not a date",
            "logical_size": "big",
            "brand_new_field": {"nested": True},
        }
    )
    assert branch.created_at is None and branch.logical_size is None and branch.is_ready
    operation = Operation.from_api({"id": "op", "status": 7, "failures_count": None})
    assert operation.status == "unknown" and operation.failures_count == 0


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "", "The Neon API key is not allowed to do this (403 FORBIDDEN): nope"),
        (404, "NOT_FOUND", "Neon could not find it (404 NOT_FOUND): nope; it may have been"),
        (409, "CONFLICT", "Neon refused because of a conflict (409 CONFLICT): nope"),
        (429, "", "Neon is rate limiting this API key (429 TOO_MANY_REQUESTS); wait a minute"),
        (503, "", "Neon had a problem on its side (503 SERVICE_UNAVAILABLE); try again"),
        (400, "BAD_REQUEST", "Neon rejected the request (400 BAD_REQUEST): nope. request id: r1"),
    ],
)
def test_error_sentences(status: int, code: str, expected: str) -> None:
    assert str(NeonApiError(status, code, "nope", "r1")).startswith(expected)


def test_connection_uri_repr_hides_the_password() -> None:
    uri = ConnectionUri.from_uri("postgresql://app:s3cret@ep-x-pooler.neon.tech/db", pooled=True)
    assert (uri.role, uri.database, uri.host) == ("app", "db", "ep-x-pooler.neon.tech")
    assert "s3cret" not in repr(uri) and "s3cret" not in str(uri)
    assert str(uri) == "postgresql://app:***@ep-x-pooler.neon.tech/db"

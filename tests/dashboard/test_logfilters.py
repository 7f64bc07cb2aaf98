"""End-user identifiers in request paths never reach the log."""

from __future__ import annotations

import logging

import pytest

from dashboard.logfilters import RedactUserPaths, redact_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/u/alice@example.com/", "/users/u/[redacted]"),
        ("/users/export/user_42/", "/users/export/[redacted]"),
        ("/users/forget/x/y/", "/users/forget/[redacted]"),
        ("/users/ownership/", "/users/ownership/"),
        ("/schema/users/", "/schema/users/"),
    ],
)
def test_redact_path(path, expected):
    assert redact_path(path) == expected


@pytest.mark.django_db
def test_a_403_on_a_user_page_logs_no_user_id(viewer_client, caplog):
    """Django's own 'Forbidden' line goes through the configured handler's filter."""
    handler = logging.getLogger().handlers[0]
    assert any(isinstance(f, RedactUserPaths) for f in handler.filters)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            for log_filter in handler.filters:
                log_filter.filter(record)
            records.append(record.getMessage())

    keeper = Keep(level=logging.WARNING)
    logging.getLogger("django.request").addHandler(keeper)
    try:
        response = viewer_client.get("/users/u/secret-person@example.com/")
    finally:
        logging.getLogger("django.request").removeHandler(keeper)
    assert response.status_code == 403
    assert records, "Django logged nothing for the 403"
    assert not any("secret-person" in line for line in records)
    assert any("/users/u/[redacted]" in line for line in records)

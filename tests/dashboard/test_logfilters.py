"""End-user identifiers in request paths never reach the log; no log line can be forged."""

from __future__ import annotations

import logging
import sys

import pytest

from dashboard.logfilters import (
    RedactUserPaths,
    ScrubbingFormatter,
    access_log_path,
    redact_path,
    scrub,
)


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x\nFAKE 200", "GET /x\\nFAKE 200"),
        ("a\r\nb", "a\\r\\nb"),
        ("bell\x07 esc\x1b[31m del\x7f", "bell\\x07 esc\\x1b[31m del\\x7f"),
        ("line\u2028separator\x85", "line\\u2028separator\\x85"),
        ('"GET /users/u/user_42" 200', '"GET /users/u/[redacted]" 200'),
        ("Not Found: /users/export/acc 7", "Not Found: /users/export/[redacted] 7"),
        ("plain text stays", "plain text stays"),
        (
            "OperationalError: postgresql://app:s3cr%40t@db:5432/shop refused",
            "OperationalError: postgresql://app:***@db:5432/shop refused",
        ),
        (
            "host=db user=app password=s3cret dbname=shop",
            "host=db user=app password=*** dbname=shop",
        ),
    ],
)
def test_scrub_redacts_and_escapes(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/u/alice smith@example.com/", "/users/u/[redacted]"),
        ("/users/u/x\n127.0.0.1 forged/", "/users/u/[redacted]"),
        ("/no/such\npath", "/no/such%0Apath"),
        ('/q"uote\r', "/q%22uote%0D"),
        ("/schema/Zo\xc3\xab/", "/schema/Zo%C3%AB/"),  # PATH_INFO is latin-1 text of the bytes
    ],
)
def test_access_log_path_is_redacted_and_one_token(path, expected):
    assert access_log_path(path) == expected


def test_the_formatter_keeps_one_record_per_line_even_in_tracebacks():
    formatter = ScrubbingFormatter("%(levelname)s %(message)s")
    try:
        raise ValueError("bad value\nERROR forged record /users/u/acc_9")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed on %s", ("/p\nq",), sys.exc_info()
        )
    lines = formatter.format(record).split("\n")
    assert lines[0] == "ERROR failed on /p\\nq"
    assert all(line.startswith("    ") for line in lines[1:])
    assert any("bad value\\nERROR forged record /users/u/[redacted]" in line for line in lines)

"""An unreachable database is logged in one line; other errors keep their traceback."""

from __future__ import annotations

import logging

import psycopg
from procrastinate.exceptions import ConnectorException

from dashboard.connection_errors import ConnectionErrorsInOneLine, connection_failure


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


def _record(exc: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "procrastinate.worker",
        logging.ERROR,
        __file__,
        1,
        "Side task %s failed",
        ("deferrer",),
        (type(exc), exc, exc.__traceback__),
    )


def test_a_wrapped_refused_connection_is_one_line_without_traceback():
    refused = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5433 failed: '
        "Connection refused"
    )
    record = _record(_raised(ConnectorException("Database error."), refused))
    assert ConnectionErrorsInOneLine().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == (
        'Side task deferrer failed (connection failed: connection to server at "127.0.0.1", '
        "port 5433 failed: Connection refused)"
    )


def test_other_errors_keep_their_traceback():
    for exc in (ValueError("a bug"), psycopg.errors.UndefinedTable("relation x does not exist")):
        record = _record(_raised(exc))
        assert ConnectionErrorsInOneLine().filter(record)
        assert record.exc_info is not None
        assert connection_failure(exc) is None


def test_the_console_handler_has_the_filter():
    handler = logging.getLogger().handlers[0]
    assert any(isinstance(f, ConnectionErrorsInOneLine) for f in handler.filters)


def test_gunicorn_logs_a_request_cut_by_the_database_in_one_line():
    from gunicorn.config import Config

    from dashboard.logfilters import RedactingGunicornLogger

    logger = RedactingGunicornLogger(Config())
    assert any(isinstance(f, ConnectionErrorsInOneLine) for f in logger.error_log.filters)

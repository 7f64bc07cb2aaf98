"""Running queued jobs in this process (tests, one-off runs) the way the worker command does."""

from __future__ import annotations

from procrastinate.contrib.django import app


def run_until_idle(queues: list[str] | None = None) -> None:
    """Run every queued job with the real procrastinate worker, then return.

    Like `manage.py procrastinate worker`, this swaps Django's connector (which hands JSON back
    as text) for a psycopg worker connector on the same database.
    """
    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:
        worker_app.run_worker(
            queues=queues, wait=False, install_signal_handlers=False, listen_notify=False
        )

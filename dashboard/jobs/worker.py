"""The job worker: procrastinate's worker, kept running through database outages.

procrastinate stops its worker when the database goes away (a side task fails, or fetching
the next job does). `run_worker_until_stopped` then waits for the database with backoff and
starts the worker again in the same process, so only a signal ends it. The worker listens for
new jobs on a direct connection (DATABASE_DIRECT_URL): behind a transaction pooler a LISTEN
would be dropped and jobs would only start at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import psycopg
from django.conf import settings
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate import psycopg_connector
from procrastinate import sql as procrastinate_sql
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params
from procrastinate.periodic import PeriodicRegistry
from psycopg.conninfo import conninfo_to_dict

from core.engine import backoff_delay, safe_error_text
from dashboard.connection_errors import connection_failure

logger = logging.getLogger(__name__)

LISTEN_APPLICATION_NAME = "schemadesk-worker-listen"
# How long the pool waits for a connection before the worker counts the database as gone.
POOL_TIMEOUT_SECONDS = 10.0
# A worker that ran this long before failing starts its backoff from the beginning again.
HEALTHY_RUN_SECONDS = 60.0
RECONNECT_BASE_SECONDS = 0.5
CONNECTION_ERRORS = (psycopg.OperationalError, procrastinate_exceptions.ConnectorException)


def _reason(exc: BaseException) -> str:
    """Return the first line of what the driver said (procrastinate wraps it), password-free."""
    return safe_error_text(connection_failure(exc) or exc)


def run_until_idle(queues: list[str] | None = None) -> None:
    """Run every queued job with the real procrastinate worker, then return (tests, one-offs).

    Like `manage.py run_worker`, this swaps Django's connector (which hands JSON back as text)
    for a psycopg worker connector on the same database.
    """
    # app.connector is Django's (typed as the base class), which has a worker twin. The
    # schedule is left to the real worker: here only the jobs queued before the call run
    # (procrastinate's periodic deferrer would queue a scheduled job due in the last minutes,
    # and whether it ran before the worker went idle would be a race).
    with app.replace_connector(app.connector.get_worker_connector()) as worker_app:  # type: ignore[attr-defined]
        # (worker_app is the app itself; `app` is Django's proxy to it, which takes no writes.)
        registry, worker_app.periodic_registry = worker_app.periodic_registry, PeriodicRegistry()
        try:
            worker_app.run_worker(
                queues=queues, wait=False, install_signal_handlers=False, listen_notify=False
            )
        finally:
            worker_app.periodic_registry = registry


def _connection_kwargs() -> dict[str, Any]:
    """Return psycopg connect() arguments for the console's database (Django's own)."""
    return connector_params("default")


def listen_connection_kwargs() -> dict[str, Any]:
    """Return connect() arguments for the LISTEN connection: DATABASE_DIRECT_URL, no pooler."""
    direct = {
        key: value
        for key, value in conninfo_to_dict(settings.DATABASE_DIRECT_URL).items()
        if key in ("host", "port", "dbname", "user", "password", "sslmode")
    }
    kwargs = {**_connection_kwargs(), **direct}
    kwargs["application_name"] = LISTEN_APPLICATION_NAME
    kwargs.pop("prepare_threshold", None)
    return kwargs


class DirectListenConnector(psycopg_connector.PsycopgConnector):
    """procrastinate's psycopg connector whose LISTEN connection goes straight to Postgres.

    Queries go through the pool (which may be a transaction pooler); LISTEN cannot. A LISTEN
    connection that cannot be opened or is lost is retried with backoff and never stops the
    worker: it still finds jobs by polling meanwhile.
    """

    def __init__(
        self,
        *,
        listen_kwargs: dict[str, Any],
        reconnect_max_seconds: float = 5.0,
        **pool_args: Any,
    ) -> None:
        super().__init__(**pool_args)
        self._listen_kwargs = listen_kwargs
        self._reconnect_max_seconds = reconnect_max_seconds

    async def listen_notify(
        self, on_notification: Callable[..., Awaitable[None]], channels: Iterable[str]
    ) -> None:
        channels = list(channels)
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    autocommit=True, **self._listen_kwargs
                ) as connection:
                    for channel in channels:
                        await connection.execute(
                            self._make_dynamic_query(
                                query=procrastinate_sql.queries["listen_queue"],
                                channel_name=channel,
                            )
                        )
                    failures = 0
                    # Returns when the connection dies; listen again on a new one.
                    await self._loop_notify(on_notification=on_notification, connection=connection)
            except CONNECTION_ERRORS as exc:
                failures += 1
                delay = backoff_delay(failures, RECONNECT_BASE_SECONDS, self._reconnect_max_seconds)
                logger.warning(
                    "the worker cannot listen for new jobs (%s); it polls meanwhile",
                    _reason(exc),
                )
                await asyncio.sleep(delay)


def worker_connector(
    concurrency: int, reconnect_max_seconds: float, pool_timeout: float = POOL_TIMEOUT_SECONDS
) -> DirectListenConnector:
    """Return a connector for the worker: a small pool on DATABASE_URL, LISTEN on the direct URL."""
    return DirectListenConnector(
        kwargs=_connection_kwargs(),
        listen_kwargs=listen_connection_kwargs(),
        reconnect_max_seconds=reconnect_max_seconds,
        min_size=1,
        # Jobs use Django's connections; the pool serves fetching (one per job slot), the
        # worker's heartbeat, the schedule and abort polling.
        max_size=concurrency + 3,
        timeout=pool_timeout,
    )


async def _database_answers() -> BaseException | None:
    """Return None when the console's database accepts a connection, else the error."""
    try:
        connection = await psycopg.AsyncConnection.connect(**_connection_kwargs())
    except psycopg.Error as exc:
        return exc
    await connection.close()
    return None


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _one_worker_run(
    stop: asyncio.Event, pool_timeout: float, worker_options: dict[str, Any]
) -> None:
    """Run procrastinate's worker until it stops by itself (returns or raises) or `stop` is set."""
    concurrency = int(worker_options.get("concurrency", 1))
    connector = worker_connector(
        concurrency, float(settings.WORKER_RECONNECT_MAX_SECONDS), pool_timeout
    )
    with app.replace_connector(connector) as worker_app:
        async with worker_app.open_async():
            worker = asyncio.create_task(
                worker_app.run_worker_async(install_signal_handlers=False, **worker_options)
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not worker.done():
                # Cancelling run_worker_async is procrastinate's graceful stop: running jobs end.
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                return
            worker.result()  # raises what stopped it


async def run_worker_until_stopped(
    stop: asyncio.Event,
    *,
    reconnect_max_seconds: float = 5.0,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    **worker_options: Any,
) -> int:
    """Run the worker until `stop` is set, restarting it whenever it stops; return the restarts.

    A database that does not answer is waited for with jittered backoff (at most
    `reconnect_max_seconds` between attempts); the worker is never left stopped. The worker
    counts the database as gone when its pool has waited `pool_timeout` seconds for a connection.
    """
    failures = 0
    restarts = 0
    while not stop.is_set():
        problem = await _database_answers()
        if problem is None:
            started = clock()
            try:
                await _one_worker_run(stop, pool_timeout, worker_options)
                if stop.is_set():
                    break
                problem = RuntimeError("it stopped by itself")
            except Exception as exc:  # whatever stopped it, the worker must come back
                problem = exc
            if clock() - started > HEALTHY_RUN_SECONDS:
                failures = 0
            restarts += 1
            what = "the job worker stopped (%s); it starts again within %.0f s"
        else:
            what = "the job worker is waiting for its database (%s); next try within %.0f s"
        failures += 1
        logger.warning(what, _reason(problem), reconnect_max_seconds)
        await _wait(stop, backoff_delay(failures, RECONNECT_BASE_SECONDS, reconnect_max_seconds))
    return restarts

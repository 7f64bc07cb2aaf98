"""How the Neon client sends a request: retries only where safe, backoff, error mapping."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from dashboard.branches.neon_errors import (
    NeonApiError,
    NeonError,
    NeonProtocolError,
    NeonTimeoutError,
    NeonTransportError,
)
from dashboard.branches.neon_parsing import _opt_str, _str, redact_uri

# The client's log records keep the logger name they had before this module was split off.
logger = logging.getLogger("dashboard.branches.neon_client")

# Answers that say Neon did not carry the request out: a conflicting operation runs (423), rate
# limited (429), or the service refused it before acting (503). Any request may be sent again.
NOT_CARRIED_OUT_STATUSES = frozenset({423, 429, 503})
# Answers after which the request may or may not have been carried out (a gateway lost Neon's
# answer, or Neon failed half-way). GETs are sent again; a change is looked up instead.
AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
RETRY_STATUSES = NOT_CARRIED_OUT_STATUSES | AMBIGUOUS_STATUSES
LOCKED = 423

# A look at the state after an ambiguous failure of a change: it returns when the change was not
# carried out, raises _CarriedOut when it was, and a NeonError when it cannot tell.
Look = Callable[[], None]


class RetryingSender:
    """The request plumbing NeonClient inherits: retries, backoff, error mapping, scrubbing."""

    # Set by NeonClient.__init__.
    base_url: str
    max_retries: int
    locked_wait_seconds: float
    timeout: httpx.Timeout
    _api_key: str
    _backoff_base: float
    _backoff_max: float
    _retry_after_max: float
    _sleep: Callable[[float], None]
    _clock: Callable[[], float]
    _rng: random.Random
    _http: httpx.Client

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Mapping[str, Any]:
        return self._decode(self._send(method, path, params=params, json_body=json_body))

    def _decode(self, response: httpx.Response) -> Mapping[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            raise NeonProtocolError(
                f"Neon answered {response.status_code} without a JSON object; try again later."
            )
        return data

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        look: Look | None = None,
    ) -> httpx.Response:
        """Send one request; return the first answer below 400.

        Sent again only where that is safe: any request after a connect error or a 423, 429 or
        503 answer (Neon did not act; Retry-After is honoured), and a GET after anything
        retryable. After an ambiguous failure of a change (another 5xx, a read timeout, a
        broken connection), the change is never sent blindly again: `look` reads the state
        and returns when the change was not carried out (it is sent again), raises _CarriedOut
        when it was, or raises a NeonError when it cannot tell; without `look` the failure is
        reported.
        A 423 (a running operation) is waited out for up to locked_wait_seconds, apart from the
        max_retries budget of the other failures.
        """
        safe = method == "GET"
        retries_left = self.max_retries
        failures = 0
        locked_since: float | None = None
        ambiguous_seen = False
        while True:
            failures += 1
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            error: NeonError
            try:
                response = self._http.request(
                    method,
                    path,
                    params=params,
                    json=json_body,
                    headers={"X-Request-ID": request_id},
                )
            except httpx.RequestError as exc:
                error = self._transport_error(exc, method, path)
                outcome, delay, retryable = type(exc).__name__, self._backoff(failures), True
                ambiguous = _is_ambiguous(exc)
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                request_id = response.headers.get("x-request-id") or request_id
                if response.status_code < 400:
                    logger.log(
                        logging.DEBUG if safe else logging.INFO,
                        "Neon %s %s -> %d (request_id=%s, %.0f ms)",
                        method,
                        path,
                        response.status_code,
                        request_id,
                        elapsed_ms,
                    )
                    return response
                error = self._api_error(response, method, path, request_id)
                outcome = error.label
                ambiguous = error.status >= 500 and error.status not in NOT_CARRIED_OUT_STATUSES
                retryable = ambiguous or error.status in NOT_CARRIED_OUT_STATUSES
                delay = self._backoff(failures) if error.retry_after is None else error.retry_after

            if isinstance(error, NeonApiError) and error.status == LOCKED:
                # Poll the lock with growing waits (never sooner than Retry-After) until the
                # running operation ends or locked_wait_seconds have passed.
                delay = max(delay, self._backoff(failures))
                locked_since = self._clock() if locked_since is None else locked_since
                left = self.locked_wait_seconds - (self._clock() - locked_since)
                if left > 0:
                    self._log_retry(method, path, outcome, request_id, min(delay, left), "locked")
                    self._sleep(min(delay, left))
                    continue
                retryable = False
            ambiguous_seen = ambiguous_seen or ambiguous
            if ambiguous and not safe:
                if look is None or retries_left <= 0:
                    # Still look once: the change may have been carried out.
                    if look is not None:
                        look()
                    self._give_up(method, path, outcome, request_id, failures, look is not None)
                    raise error from None
                retries_left -= 1
                self._log_retry(method, path, outcome, request_id, delay, "looking first")
                self._sleep(delay)
                look()  # raises _CarriedOut, or a NeonError when it cannot tell
                continue
            if not retryable or retries_left <= 0:
                # A failure that follows an ambiguous one (a 409 after a lost answer is most
                # likely our own change) gets a last look at the state.
                if ambiguous_seen and not safe and look is not None:
                    look()
                self._give_up(method, path, outcome, request_id, failures, retryable)
                raise error from None
            retries_left -= 1
            self._log_retry(method, path, outcome, request_id, delay, f"failure {failures}")
            self._sleep(delay)

    def _log_retry(
        self, method: str, path: str, outcome: str, request_id: str, delay: float, why: str
    ) -> None:
        logger.warning(
            "Neon %s %s -> %s (request_id=%s); retrying in %.2fs (%s)",
            method,
            path,
            outcome,
            request_id,
            delay,
            why,
        )

    def _give_up(
        self, method: str, path: str, outcome: str, request_id: str, attempts: int, tried: bool
    ) -> None:
        logger.warning(
            "Neon %s %s -> %s (request_id=%s)%s",
            method,
            path,
            outcome,
            request_id,
            f"; giving up after {attempts} attempts" if tried else "",
        )

    def _backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt n (1-based): "equal jitter" backoff.

        Between half and all of base * 2**(n-1), so waits grow while staying spread out.
        """
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def _scrub(self, text: str) -> str:
        text = redact_uri(text).replace(self._api_key, "***")
        return text if len(text) <= 500 else text[:497] + "..."

    def _api_error(
        self, response: httpx.Response, method: str, path: str, request_id: str
    ) -> NeonApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, Mapping) else {}
        message = _str(body, "message") or response.reason_phrase or "no details"
        return NeonApiError(
            status=response.status_code,
            code=self._scrub(_str(body, "code")),
            message=self._scrub(message),
            request_id=_opt_str(body, "request_id") or request_id,
            method=method,
            path=path,
            retry_after=self._retry_after(response),
        )

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after")
        if value is None:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return min(max(seconds, 0.0), self._retry_after_max)

    def _transport_error(
        self, exc: httpx.RequestError, method: str, path: str
    ) -> NeonTransportError:
        where = f"{method} {path}"
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return NeonTimeoutError(
                f"Could not connect to Neon within {self.timeout.connect:g} seconds ({where}); "
                "check the network and try again.",
                method=method,
                path=path,
                kind="connect_timeout",
            )
        if isinstance(exc, httpx.TimeoutException):
            return NeonTimeoutError(
                f"Neon did not answer within {self.timeout.read:g} seconds ({where}); "
                "it may be slow or busy, try again in a moment.",
                method=method,
                path=path,
                kind="read_timeout",
            )
        if isinstance(exc, httpx.ConnectError):
            return NeonTransportError(
                f"Could not connect to Neon at {urlsplit(self.base_url).hostname} ({where}); "
                "check the network and try again.",
                method=method,
                path=path,
                kind="connect",
            )
        return NeonTransportError(
            f"The connection to Neon broke during {where}; try again in a moment.",
            method=method,
            path=path,
            kind="protocol",
        )


def _is_ambiguous(exc: httpx.RequestError) -> bool:
    """True when the request may have reached Neon (it was sent, the answer was lost)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)

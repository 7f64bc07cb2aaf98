"""How the Neon client sends a request: bounded jittered retries and error mapping."""

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
    _CreateResolved,
)
from dashboard.branches.neon_parsing import _opt_str, _str, redact_uri

# The client's log records keep the logger name they had before this module was split off.
logger = logging.getLogger("dashboard.branches.neon_client")

# 423 (a conflicting operation runs) and 429 (rate limited) mean the request was not carried out.
# A 5xx or a timeout is ambiguous: the request may or may not have been carried out.
RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504})


class RetryingSender:
    """The request plumbing NeonClient inherits: retries, backoff, error mapping, scrubbing."""

    # Set by NeonClient.__init__.
    base_url: str
    max_retries: int
    timeout: httpx.Timeout
    _api_key: str
    _backoff_base: float
    _backoff_max: float
    _retry_after_max: float
    _sleep: Callable[[float], None]
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
        reconcile: Callable[[], bool] | None = None,
    ) -> httpx.Response:
        """Send one request with bounded retries; return the first non-error response.

        reconcile, when given, runs after an ambiguous failure (timeout, 5xx) before the request
        is sent again or a failure is reported: True means "not carried out", False means the
        request's effect was found, and _CreateResolved is raised.
        """
        ambiguous_seen = False
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            # After an ambiguous failure (and the wait), look before sending the request again.
            if attempt > 1 and ambiguous_seen and reconcile is not None and not reconcile():
                raise _CreateResolved
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
                outcome, delay, retryable = type(exc).__name__, self._backoff(attempt), True
                ambiguous_seen = ambiguous_seen or _is_ambiguous(exc)
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                request_id = response.headers.get("x-request-id") or request_id
                if response.status_code < 400:
                    logger.log(
                        logging.DEBUG if method == "GET" else logging.INFO,
                        "Neon %s %s -> %d (request_id=%s, %.0f ms)",
                        method,
                        path,
                        response.status_code,
                        request_id,
                        elapsed_ms,
                    )
                    return response
                error = self._api_error(response, method, path, request_id)
                outcome, retryable = error.label, error.status in RETRY_STATUSES
                delay = self._backoff(attempt) if error.retry_after is None else error.retry_after
                ambiguous_seen = ambiguous_seen or error.status >= 500

            if not retryable or attempt >= attempts:
                # Before reporting a failure that follows an ambiguous one, look once more: the
                # request may have been carried out (a 409 then is most likely our own attempt).
                if ambiguous_seen and reconcile is not None and not reconcile():
                    raise _CreateResolved
                logger.warning(
                    "Neon %s %s -> %s (request_id=%s)%s",
                    method,
                    path,
                    outcome,
                    request_id,
                    f"; giving up after {attempt} attempts" if retryable else "",
                )
                raise error from None
            logger.warning(
                "Neon %s %s -> %s (request_id=%s); retrying in %.2fs (attempt %d of %d)",
                method,
                path,
                outcome,
                request_id,
                delay,
                attempt,
                attempts,
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

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

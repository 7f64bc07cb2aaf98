"""Failure injection of the fake Neon server: injected error answers, lost answers, slow answers."""

from __future__ import annotations

from typing import Any

from tests.fakes.neon_fake_models import _ERROR_MESSAGES, DROPPED, _DelayRule, _FailureRule


class _FailureInjection:
    """FakeNeon's fail_next() / drop_answer_next() / delay_next() controls and their rules."""

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with this error status and an error body.

        after_processing=True carries the request out first and then answers with the error,
        like a gateway that loses the answer (an ambiguous failure).
        """
        with self._lock:
            self._failures.append(
                _FailureRule(
                    status, times, retry_after, code, message, method, path_contains,
                    after_processing,
                )
            )  # fmt: skip

    def drop_answer_next(
        self,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        after_processing: bool = True,
    ) -> None:
        """Close the connection of the next `times` matching requests without an answer.

        By default the request is carried out first (the answer is lost on the way back), so
        the client cannot tell whether it happened; after_processing=False drops it unread.
        """
        with self._lock:
            self._failures.append(
                _FailureRule(
                    DROPPED, times, None, None, None, method, path_contains, after_processing
                )
            )

    def delay_next(
        self,
        seconds: float,
        *,
        times: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Carry out the next `times` matching requests, then wait `seconds` before answering."""
        with self._lock:
            self._delays.append(_DelayRule(seconds, times, method, path_contains))

    def clear_faults(self) -> None:
        """Forget every injected failure, lost answer and delay not used yet."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def _failure_answer(
        self, failure: _FailureRule, request_id: str, extra: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        if failure.status == DROPPED:
            return DROPPED, None, {}
        headers = dict(extra)
        if failure.retry_after is not None:
            headers["Retry-After"] = f"{failure.retry_after:g}"
        message = failure.message or _ERROR_MESSAGES.get(failure.status, "injected failure")
        body = self._error_body(failure.status, message, request_id, failure.code)
        return failure.status, body, headers

    def _take_failure(self, method: str, path: str) -> _FailureRule | None:
        for rule in self._failures:
            if _matches(rule.method, rule.path_contains, method, path):
                rule.times -= 1
                if rule.times <= 0:
                    self._failures.remove(rule)
                return rule
        return None

    def _take_delay(self, method: str, path: str) -> _DelayRule | None:
        for rule in self._delays:
            if _matches(rule.method, rule.path_contains, method, path):
                rule.times -= 1
                if rule.times <= 0:
                    self._delays.remove(rule)
                return rule
        return None


def _matches(rule_method: str | None, fragment: str | None, method: str, path: str) -> bool:
    return (rule_method is None or rule_method == method) and (fragment is None or fragment in path)

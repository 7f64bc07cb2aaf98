"""The exceptions the Neon client raises; each str() is a sentence for the operator."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashboard.branches.neon_models import Operation


class NeonError(Exception):
    """Base class of every error this client raises; str() is a sentence for the operator."""


class NeonApiError(NeonError):
    """Neon answered with an error status and (usually) a GeneralError body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._sentence())

    @property
    def label(self) -> str:
        """Status and code, e.g. '423 LOCKED'; the HTTP reason stands in for an empty code."""
        code = self.code
        if not code:
            try:
                code = HTTPStatus(self.status).phrase.upper().replace(" ", "_")
            except ValueError:
                code = "ERROR"
        return f"{self.status} {code}"

    def _sentence(self) -> str:
        label, detail = self.label, self.message.rstrip(".")
        status = self.status
        if status == 401:
            text = f"Neon did not accept the API key ({label}); check NEON_API_KEY"
        elif status == 403:
            text = (
                f"The Neon API key is not allowed to do this ({label}): {detail}; "
                "check that the key has access to the project"
            )
        elif status == 404:
            text = f"Neon could not find it ({label}): {detail}; it may have been deleted"
        elif status == 409:
            text = f"Neon refused because of a conflict ({label}): {detail}"
        elif status == 423:
            text = (
                f"Neon is busy with another operation on this project ({label}); "
                "try again in a moment"
            )
        elif status == 429:
            text = f"Neon is rate limiting this API key ({label}); wait a minute and try again"
        elif status >= 500:
            text = f"Neon had a problem on its side ({label}); try again in a few minutes"
        else:
            text = f"Neon rejected the request ({label}): {detail}"
        if self.request_id:
            text += f". request id: {self.request_id}"
        return text

    def __repr__(self) -> str:
        return (
            f"NeonApiError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class NeonTransportError(NeonError):
    """No usable answer from Neon: the connection failed or timed out."""

    def __init__(self, sentence: str, *, method: str = "", path: str = "", kind: str = "") -> None:
        self.method = method
        self.path = path
        self.kind = kind
        super().__init__(sentence)


class NeonTimeoutError(NeonTransportError):
    """Neon did not answer within the configured timeout."""


class NeonProtocolError(NeonError):
    """Neon answered with a body this client cannot use (missing required fields)."""


class NeonOperationError(NeonError):
    """A Neon operation failed, or did not finish in the time we were willing to wait."""

    def __init__(self, sentence: str, operation: Operation | None = None) -> None:
        self.operation = operation
        super().__init__(sentence)


class _CarriedOut(Exception):
    """Internal: after an ambiguous failure, the state shows the request was carried out."""

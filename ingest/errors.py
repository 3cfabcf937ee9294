"""Errors of the ingest package: one base, each carrying the HTTP status it maps to."""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest error."""


class RequestError(IngestError):
    """The whole request is unusable: answered with ``status`` and a JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.extra = extra or {}


class BrokerUnavailableError(IngestError):
    """The broker did not acknowledge in time: nothing may be reported as accepted."""

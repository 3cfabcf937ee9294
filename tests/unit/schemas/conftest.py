"""Shared helpers for the contract tests."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import ValidationReport, validate_batch

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # after every make_event default timestamp


def check(*events: object, **kwargs: object) -> ValidationReport:
    """validate_batch over a JSON array of ``events`` with the fixed clock."""
    kwargs.setdefault("now", NOW)
    return validate_batch(orjson.dumps(list(events)), **kwargs)  # type: ignore[arg-type]


def reasons(report: ValidationReport) -> list[tuple[int | None, str]]:
    return [(r.index, r.path) for r in report.rejected]


@pytest.fixture
def now() -> datetime:
    return NOW

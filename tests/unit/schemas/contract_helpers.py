"""Shared helpers for the contract tests.

A module of its own (not ``conftest``): ``from conftest import ...`` picks whichever
``conftest`` module pytest loaded last, which breaks when these tests run together with
another folder's tests (``pytest tests/unit/schemas tests/integration/ingest``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas import ValidationReport, validate_batch

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # after every make_event default timestamp


def check(*events: object, **kwargs: object) -> ValidationReport:
    """validate_batch over a JSON array of ``events`` with the fixed clock."""
    kwargs.setdefault("now", NOW)
    return validate_batch(orjson.dumps(list(events)), **kwargs)  # type: ignore[arg-type]


def reasons(report: ValidationReport) -> list[tuple[int | None, str]]:
    return [(r.index, r.path) for r in report.rejected]

"""The examples in docs/events.md are valid events, and the docs name every enum value."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import orjson
from contract_helpers import check

from schemas import enums

DOC = Path(__file__).resolve().parents[3] / "docs" / "events.md"


def _json_blocks() -> list[dict]:
    text = DOC.read_text(encoding="utf-8")
    return [orjson.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def test_doc_examples_validate() -> None:
    examples = _json_blocks()
    assert len(examples) >= 4
    report = check(*examples, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert report.rejected == []
    correction = examples[-1]
    assert correction["corrects_event_id"] == examples[0]["event_id"]


def test_doc_lists_every_enumeration_value() -> None:
    text = DOC.read_text(encoding="utf-8")
    for cls in (
        enums.EventType,
        enums.SourceType,
        enums.Channel,
        enums.Severity,
        enums.CrimeGroup,
        enums.TriageOutcome,
        enums.HandledBy,
        enums.ExtensionKind,
        enums.Decision,
        enums.SuspensionReason,
        enums.ResumeReason,
        enums.AdminField,
    ):
        for member in cls:
            assert f"`{member.value}`" in text, member


def test_doc_describes_every_field() -> None:
    """Integrators learn every field from docs/events.md: a new model field must be documented."""
    from schemas import EVENT_CLASSES

    text = DOC.read_text(encoding="utf-8")
    missing = [
        f"{cls.__name__}.{name}"
        for cls in EVENT_CLASSES
        for name in cls.model_fields
        if f"`{name}`" not in text
    ]
    assert missing == []

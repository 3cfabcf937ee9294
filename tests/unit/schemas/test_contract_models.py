"""Event shapes: every type, wrong types, unknown fields, and no personal data."""

from __future__ import annotations

import pydantic
import pytest
from contract_helpers import NOW, check, reasons

from schemas import EVENT_CLASSES, validate_batch
from schemas.examples import EVENT_TYPES, make_event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_round_trips(event_type: str) -> None:
    event = make_event(event_type)
    report = check(event)
    assert report.rejected == []
    (model,) = report.valid
    assert model.event_type == event_type
    assert str(model.event_id) == event["event_id"]
    again = validate_batch(model.model_dump_json().encode(), now=NOW)
    assert again.valid == [model]


def test_nine_event_types() -> None:
    assert len(EVENT_CLASSES) == len(EVENT_TYPES) == 9


def test_models_are_frozen() -> None:
    (model,) = check(make_event("report_received")).valid
    with pytest.raises(pydantic.ValidationError):
        model.channel = "phone"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("schema_version", "1"),
        ("schema_version", 2),
        ("schema_version", True),
        ("province_code", 1),
        ("commune_code", 70),
        ("commune_code", "70"),
        ("event_id", "not-a-uuid"),
        ("event_id", 12345),
        ("occurred_at", "2026-11-20T09:30:00"),  # naive
        ("occurred_at", 1_790_000_000),
        ("occurred_at", "yesterday"),
        ("recorded_at", None),
        ("code_regime", 2025),
        ("code_regime", "1999"),
        ("channel", "fax"),
        ("channel", "PHONE"),
        ("severity", "minor"),
        ("crime_group", "theft"),
        ("source_type", None),
    ],
)
def test_wrong_values_are_rejected_with_their_path(field: str, value: object) -> None:
    report = check(make_event("report_received", **{field: value}))
    assert report.valid == []
    assert reasons(report) == [(0, field)]


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("deadline_extended", "months", 3),
        ("deadline_extended", "months", 0),
        ("deadline_extended", "months", 1.5),
        ("deadline_extended", "months", "2"),
        ("offence_cleared", "suspects_count", -1),
        ("suspects_apprehended", "count", 0),
        ("suspects_apprehended", "count", True),
        ("admin_violation_sanctioned", "fine_vnd", -5),
        ("admin_violation_sanctioned", "fine_vnd", 10.5),
        ("admin_violation_sanctioned", "field", "parking"),
        ("report_triaged", "outcome", "maybe"),
        ("report_forwarded", "handled_by", "district_police"),
        ("report_resumed", "reason", "because"),
        ("report_resolved", "decision", "prosecute"),
    ],
)
def test_type_specific_fields(event_type: str, field: str, value: object) -> None:
    report = check(make_event(event_type, **{field: value}))
    assert reasons(report) == [(0, field)]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_missing_type_specific_field(event_type: str) -> None:
    event = make_event(event_type)
    common = set(make_event("report_triaged")) - {"outcome"}
    specific = sorted(set(event) - common)
    if event_type == "report_resolved":
        specific = ["decision"]
    for name in specific:
        report = check({k: v for k, v in event.items() if k != name})
        assert reasons(report) == [(0, name)], name


@pytest.mark.parametrize(
    "extra",
    [
        {"suspect_name": "Nguyễn Văn A"},
        {"cccd": "001203004567"},
        {"phone": "0912345678"},
        {"plate": "29A-123.45"},
        {"address": "12 Hàng Bạc, Hoàn Kiếm"},
        {"note": "free text"},
        {"outcome": "accepted"},  # a field of another event type
    ],
)
def test_unknown_fields_are_rejected(extra: dict[str, str]) -> None:
    report = check(make_event("report_received", **extra))
    assert reasons(report) == [(0, next(iter(extra)))]
    assert "Extra inputs are not permitted" in report.rejected[0].reason


@pytest.mark.parametrize(
    "incident_id",
    [
        "001203004567",  # CCCD (12 digits)
        "001203004567001203",  # digits only, long enough
        "0912345678",  # phone
        "+84912345678",
        "29A-123.45",  # plate
        "29A12345",
        "NguyenVanAnhHaNoi",  # name, no digit
        "Nguyễn Văn A 1990 abcdef",  # diacritics and spaces
        "12 Hang Bac Hoan Kiem Ha Noi",  # address with spaces
        "short-1a",
        "x" * 70 + "1",
        "",
    ],
)
def test_incident_id_cannot_carry_personal_data(incident_id: str) -> None:
    report = check(make_event("report_triaged", incident_id=incident_id))
    assert reasons(report) == [(0, "incident_id")]


@pytest.mark.parametrize(
    "incident_id",
    [
        "inc-0f8fad5b-d9cb-469f-a165-70867728950e",
        "0f8fad5bd9cb469fa16570867728950e",
        "HN:2026:QLVV:00012345",
        "tok_7Q2kdQ9x1mZx8VfP",
    ],
)
def test_pseudonymous_tokens_pass(incident_id: str) -> None:
    assert check(make_event("report_triaged", incident_id=incident_id)).rejected == []


@pytest.mark.parametrize(
    "source_system", ["Hà Nội system", "a", "HN-QLVV", "x" * 41, "0912345678a"]
)
def test_source_system_is_a_slug(source_system: str) -> None:
    report = check(make_event("report_triaged", source_system=source_system))
    assert reasons(report) == [(0, "source_system")]


def test_suspension_reason_rules() -> None:
    suspend = make_event("report_resolved", decision="suspend")
    with_reason = make_event(
        "report_resolved", decision="suspend", suspension_reason="awaiting_expert_assessment"
    )
    decline = make_event(
        "report_resolved", decision="decline", suspension_reason="awaiting_documents"
    )
    report = check(suspend, with_reason, decline)
    assert [str(m.event_id) for m in report.valid] == [with_reason["event_id"]]
    assert reasons(report) == [(0, "suspension_reason"), (2, "suspension_reason")]


def test_correction_may_not_point_at_itself() -> None:
    event = make_event("report_triaged")
    fixed = make_event("report_triaged", corrects_event_id=event["event_id"])
    selfish = dict(event, corrects_event_id=event["event_id"])
    report = check(fixed, selfish)
    assert len(report.valid) == 1
    assert str(report.valid[0].corrects_event_id) == event["event_id"]
    assert reasons(report) == [(1, "corrects_event_id")]

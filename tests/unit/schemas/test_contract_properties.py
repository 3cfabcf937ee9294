"""Property-based: generated valid events pass; each mutation fails with a precise reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from contract_helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import (
    AdminField,
    Channel,
    CrimeGroup,
    Decision,
    ExtensionKind,
    HandledBy,
    Rejection,
    ResumeReason,
    Severity,
    SourceType,
    SuspensionReason,
    TriageOutcome,
    validate_batch,
)
from schemas.units import COMMUNE_PROVINCE
from schemas.validate import validate_one

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BATCH_SETTINGS = settings(SETTINGS, max_examples=60)
UNITS = sorted(COMMUNE_PROVINCE.items())
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"
COMMON = {
    "event_id",
    "event_type",
    "schema_version",
    "incident_id",
    "province_code",
    "commune_code",
    "occurred_at",
    "recorded_at",
    "source_system",
}


def _enum(cls: Any) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in cls])


COUNTS = st.integers(0, 1_000_000)
SPECIFIC: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "report_received": {
        "source_type": _enum(SourceType),
        "channel": _enum(Channel),
        "crime_group": _enum(CrimeGroup),
        "severity": _enum(Severity),
    },
    "report_triaged": {"outcome": _enum(TriageOutcome)},
    "report_forwarded": {"handled_by": _enum(HandledBy)},
    "deadline_extended": {"extension": _enum(ExtensionKind), "months": st.integers(1, 2)},
    "report_resolved": {"decision": st.sampled_from(["institute", "decline"])},
    "report_resumed": {"reason": _enum(ResumeReason)},
    "offence_cleared": {
        "crime_group": _enum(CrimeGroup),
        "severity": _enum(Severity),
        "suspects_count": COUNTS,
    },
    "suspects_apprehended": {"count": st.integers(1, 1_000_000), "crime_group": _enum(CrimeGroup)},
    "admin_violation_sanctioned": {
        "field": _enum(AdminField),
        "violations_detected": COUNTS,
        "violations_sanctioned": COUNTS,
        "violators": COUNTS,
        "fine_vnd": st.integers(0, 10**13),
    },
}


@st.composite
def incident_ids(draw: st.DrawFn) -> str:
    head = draw(st.text(ID_ALPHABET, min_size=0, max_size=30))
    tail = draw(st.text(ID_ALPHABET, min_size=0, max_size=30))
    core = draw(st.sampled_from(["a1", "1a", "Z9", "9Z"]))
    token = head + core + tail
    return (token + "x1" * 8)[: max(16, len(token))]


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(sorted(SPECIFIC)))
    commune, province = draw(st.sampled_from(UNITS))
    offset = timezone(timedelta(minutes=draw(st.integers(-12 * 60, 14 * 60))))
    recorded = NOW - timedelta(seconds=draw(st.integers(-300, 10 * 365 * 86400)))
    occurred = recorded - timedelta(seconds=draw(st.integers(0, 400 * 86400)))
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))),
        "event_type": event_type,
        "schema_version": 1,
        "incident_id": draw(incident_ids()),
        "province_code": province,
        "commune_code": commune,
        "occurred_at": occurred.astimezone(offset).isoformat(),
        "recorded_at": recorded.astimezone(offset).isoformat(),
        "source_system": draw(st.from_regex(r"\A[a-z][a-z0-9._\-]{0,20}[a-z0-9]\Z")),
    }
    if draw(st.booleans()):
        event["code_regime"] = "2025"
    if draw(st.booleans()):
        event["corrects_event_id"] = draw(st.one_of(st.none(), st.uuids().map(str)))
    for name, strategy in SPECIFIC[event_type].items():
        event[name] = draw(strategy)
    if event_type == "report_resolved" and draw(st.booleans()):
        event["decision"] = Decision.SUSPEND.value
        event["suspension_reason"] = draw(_enum(SuspensionReason))
    return event


def _validate(*events: Any) -> Any:
    # stdlib json: hypothesis draws integers beyond 64 bits, which orjson cannot write
    return validate_batch(json.dumps(list(events)).encode(), now=NOW)


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@SETTINGS
@given(st.lists(valid_events(), min_size=1, max_size=20))
def test_generated_valid_events_pass(events: list[dict[str, Any]]) -> None:
    report = _validate(*events)
    assert report.rejected == []
    assert [str(e.event_id) for e in report.valid] == [e["event_id"] for e in events]


# --- mutations: each returns (mutated event, field path the rejection must name) --------------


def _drop(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    name = draw(
        st.sampled_from(sorted(COMMON - {"event_type"} | set(SPECIFIC[event["event_type"]])))
    )
    return {k: v for k, v in event.items() if k != name}, name


def _unknown_field(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    name = draw(st.sampled_from(["name", "cccd", "phone", "plate", "address", "note", "ghi_chu"]))
    return {**event, name: draw(TEXT)}, name


def _wrong_type(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    name = draw(st.sampled_from(sorted(set(event) - {"event_type", "corrects_event_id"})))
    value = event[name]
    if isinstance(value, str):
        bad: Any = draw(
            st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2))
        )
    else:
        # (not infinity: json.dumps writes it as Infinity, which is not JSON at all)
        floats = st.floats(allow_nan=False, allow_infinity=False)
        bad = draw(st.one_of(TEXT, floats, st.booleans()))
        if isinstance(bad, float) and bad.is_integer():
            bad += 0.5
    return {**event, name: bad}, name


def _bad_enum(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    choices = [n for n, s in SPECIFIC[event["event_type"]].items() if isinstance(event[n], str)]
    name = draw(st.sampled_from(choices or ["code_regime"]))
    return {**event, name: draw(st.sampled_from(["", "other_value", "UNKNOWN", "tố giác"]))}, name


def _foreign_commune(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    commune, _ = draw(st.sampled_from([u for u in UNITS if u[1] != event["province_code"]]))
    return {**event, "commune_code": commune}, "commune_code"


def _future(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    ahead = NOW + timedelta(seconds=draw(st.integers(301, 10**8)))
    return {**event, "recorded_at": ahead.isoformat()}, "recorded_at"


def _occurred_after_recorded(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    recorded = datetime.fromisoformat(event["recorded_at"])
    later = recorded + timedelta(seconds=draw(st.integers(1, 10**6)))
    return {**event, "occurred_at": later.isoformat()}, "occurred_at"


def _naive_time(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    name = draw(st.sampled_from(["occurred_at", "recorded_at"]))
    naive = datetime.fromisoformat(event[name]).astimezone(UTC).replace(tzinfo=None)
    return {**event, name: naive.isoformat()}, name


def _personal_id(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    digits = draw(st.text("0123456789", min_size=9, max_size=12))
    return {**event, "incident_id": digits}, "incident_id"


def _bad_event_type(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    return {**event, "event_type": draw(TEXT)}, "event_type"


def _bad_version(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    version = draw(st.one_of(st.integers().filter(lambda v: v != 1), st.just("1"), st.just(True)))
    return {**event, "schema_version": version}, "schema_version"


def _legacy_half(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    if draw(st.booleans()):
        return {**event, "legacy_province_code": draw(st.sampled_from(["01", "15"]))}, (
            "legacy_commune_code"
        )
    return {**event, "legacy_commune_code": draw(st.sampled_from(["00001", "04249"]))}, (
        "legacy_commune_code"
    )


def _self_correction(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    return {**event, "corrects_event_id": event["event_id"]}, "corrects_event_id"


def _suspension_mismatch(event: dict[str, Any], draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    if event["event_type"] != "report_resolved":
        return {**event, "suspension_reason": "awaiting_documents"}, "suspension_reason"
    if event["decision"] == "suspend":
        return {k: v for k, v in event.items() if k != "suspension_reason"}, "suspension_reason"
    return {**event, "suspension_reason": "awaiting_documents"}, "suspension_reason"


MUTATIONS = [
    _legacy_half,
    _self_correction,
    _suspension_mismatch,
    _drop,
    _unknown_field,
    _wrong_type,
    _bad_enum,
    _foreign_commune,
    _future,
    _occurred_after_recorded,
    _naive_time,
    _personal_id,
    _bad_event_type,
    _bad_version,
]


@st.composite
def mixed_batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-30 valid events, each left alone or broken by one mutation."""
    pairs = draw(
        st.lists(
            st.tuples(valid_events(), st.one_of(st.none(), st.sampled_from(MUTATIONS))),
            min_size=1,
            max_size=30,
        )
    )
    return [e if mutate is None else mutate(e, draw)[0] for e, mutate in pairs]


@SETTINGS
@given(valid_events(), valid_events(), st.sampled_from(MUTATIONS), st.data())
def test_mutated_events_fail_with_a_reason(
    good: dict[str, Any], base: dict[str, Any], mutate: Any, data: st.DataObject
) -> None:
    bad, path = mutate(base, data.draw)
    report = _validate(good, bad, good)
    assert len(report.valid) == 2, "a bad event must not take the others down"
    (rejection,) = report.rejected
    assert rejection.index == 1
    assert rejection.reason
    assert rejection.path == path or f"{path}:" in rejection.reason, (rejection, path)


@BATCH_SETTINGS
@given(mixed_batches())
def test_a_batch_judges_each_event_as_if_it_were_alone(events: list[dict[str, Any]]) -> None:
    batch = _validate(*events)
    alone = [_validate(e) for e in events]
    assert [str(e.event_id) for e in batch.valid] == [
        str(a.valid[0].event_id) for a in alone if a.valid
    ]
    assert [(r.index, r.path, r.reason) for r in batch.rejected] == [
        (i, a.rejected[0].path, a.rejected[0].reason) for i, a in enumerate(alone) if a.rejected
    ]


@BATCH_SETTINGS
@given(mixed_batches())
def test_batch_fast_path_agrees_with_the_reference_path(events: list[dict[str, Any]]) -> None:
    """validate_batch (fast scan) against validate_one (the plain rule_violation path)."""
    batch = _validate(*events)
    limit = NOW + timedelta(seconds=300)
    reference = [
        validate_one(json.loads(json.dumps(e)), index=i, limit=limit) for i, e in enumerate(events)
    ]
    expected_rejected = [r for r in reference if isinstance(r, Rejection)]
    assert [(r.index, r.path, r.reason) for r in batch.rejected] == [
        (r.index, r.path, r.reason) for r in expected_rejected
    ]
    assert len(batch.valid) == len(reference) - len(expected_rejected)

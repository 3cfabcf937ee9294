"""The generator: deterministic, valid on the wire, knobs honoured, truth = what is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest.simulate import Knobs, compute_truth, generate
from ingest.simulate.truth import effective_events
from schemas import rules, validate_batch

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
KNOBS = Knobs(duplicates=0.05, out_of_order=0.1, late=0.05, malformed=0.03)


@pytest.fixture(scope="module")
def sim():
    return generate(11, n_events=6000, now=NOW, knobs=KNOBS)


def test_same_seed_same_stream_and_truth(sim):
    again = generate(11, n_events=6000, now=NOW, knobs=KNOBS)
    assert [r.value for r in again.records] == [r.value for r in sim.records]
    assert again.truth == sim.truth
    other = generate(12, n_events=6000, now=NOW, knobs=KNOBS)
    assert [r.value for r in other.records] != [r.value for r in sim.records]


def test_every_record_is_valid_except_the_malformed_share(sim):
    valid: list = []
    rejected = 0
    for record in sim.records:
        report = validate_batch(record.value, now=NOW, expected_province=record.key.decode())
        valid += report.valid
        rejected += len(report.rejected)
    meta = sim.truth["meta"]
    assert meta["distinct_valid_events"] == 6000
    assert rejected == meta["dead_letters_expected"] == meta["malformed_events"] + meta[
        "garbage_records"]
    assert len(valid) == 6000 + meta["duplicates"]
    assert len({e.event_id for e in valid}) == 6000
    assert meta["duplicates"] == 300 and meta["late"] == 300 and meta["malformed_events"] > 150


def test_records_are_batches_of_one_province(sim):
    for record in sim.records:
        if record.count == 0:
            continue  # an unparseable record (malformed share)
        events = orjson.loads(record.value)
        assert 1 <= len(events) <= 1000
        assert {e["province_code"] for e in events if isinstance(e, dict)} <= {
            record.key.decode()}


def test_truth_equals_a_recount_of_what_is_on_the_wire(sim):
    """A consumer that reads the records, validates and dedups must reach the same truth."""
    wire = []
    for record in sim.records:
        for event in validate_batch(record.value, now=NOW).valid:
            wire.append(event.model_dump(mode="python"))
    for e in wire:
        e["event_id"] = str(e["event_id"])
        e["corrects_event_id"] = e["corrects_event_id"] and str(e["corrects_event_id"])
        for key, value in list(e.items()):
            if hasattr(value, "value"):  # enums -> plain strings
                e[key] = value.value
    recount = compute_truth(wire, NOW)
    expected = {k: v for k, v in sim.truth.items() if k != "meta"}
    assert recount == expected


def test_flows_are_realistic(sim):
    figures = sim.truth["national"]["periods"]["ytd"]["figures"]
    assert 0.6 < figures["on_time_rate"] < 0.95
    assert figures["received"] > 1000 and figures["cleared"] > 50 and figures["suspects"] > 50
    assert figures["suspended"] > 0 and figures["admin_violations"] > 0
    today = sim.truth["national"]["periods"]["today"]["figures"]
    assert today["received"] > 20  # "today" is not trivial
    backlog = sim.truth["national"]["backlog"]
    assert 0 < backlog["overdue"] < backlog["open"]
    effective = effective_events(sim.events)
    kinds = {e["event_type"] for e in effective}
    assert kinds == {"report_received", "report_triaged", "report_forwarded",
                     "deadline_extended", "report_resolved", "report_resumed",
                     "offence_cleared", "suspects_apprehended", "admin_violation_sanctioned"}
    assert sim.truth["meta"]["corrections"] == 180


def test_open_reports_are_not_due_near_today(sim):
    """Keeps the truth stable for a day of clock skew between generation and the check."""
    today = rules.local_date(NOW)
    by_incident: dict[str, list] = {}
    for e in sorted(effective_events(sim.events), key=lambda e: e["occurred_at"]):
        by_incident.setdefault(e["incident_id"], []).append(e)
    from ingest.simulate.flows import due_in_force
    from ingest.simulate.truth import Report

    open_reports = 0
    for events in by_incident.values():
        if events[0]["event_type"] == "admin_violation_sanctioned" or not Report(
                events).open_at():
            continue
        open_reports += 1
        assert abs((due_in_force(events, NOW) - today).days) > 1
    assert open_reports > 100


def test_provinces_are_weighted(sim):
    received = {p: a["periods"]["ytd"]["figures"]["received"]
                for p, a in sim.truth["provinces"].items()}
    assert received["79"] > received["12"] * 5  # Hồ Chí Minh City vs Lai Châu
    assert sum(received.values()) == sim.truth["national"]["periods"]["ytd"]["figures"][
        "received"]


def test_knobs_are_checked():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Knobs(late=1.5)
    assert generate(1, duration=2, rate=50, now=NOW).truth["meta"]["distinct_valid_events"] == 100


def _inversions(sim) -> int:
    """Adjacent valid items sent in decreasing recorded_at order."""
    times = [i.value["recorded_at"] for i in sim.items if i.valid and not i.duplicate]
    times = [datetime.fromisoformat(t) for t in times]
    return sum(1 for a, b in zip(times, times[1:], strict=False) if b < a)


def test_out_of_order_and_late_knobs_change_the_send_order():
    calm = generate(4, n_events=2000, now=NOW)
    assert _inversions(calm) == 0  # no knob: sent in recorded_at order
    shuffled = generate(4, n_events=2000, now=NOW, knobs=Knobs(out_of_order=0.1))
    assert shuffled.stats["out_of_order"] == 200 and _inversions(shuffled) > 50
    late = generate(4, n_events=2000, now=NOW, knobs=Knobs(late=0.1))
    tail = [i.value for i in late.items[-late.stats["late"]:]]
    assert late.stats["late"] == 200
    for event in tail:  # happened over a day ago, recorded (and sent) at the end
        occurred = datetime.fromisoformat(event["occurred_at"])
        recorded = datetime.fromisoformat(event["recorded_at"])
        assert recorded - occurred > timedelta(days=1) and NOW - recorded < timedelta(minutes=11)
    figures = [{k: v for k, v in s.truth.items() if k != "meta"} for s in (calm, shuffled)]
    assert figures[0] == figures[1]  # the order of delivery never changes the figures

"""The ground truth on a hand-made scenario whose figures are worked out in the comments."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from ingest.simulate import compare, compute_truth

ICT = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ICT)
COMMUNE = "00070"  # Hoàn Kiếm, province 01
_ids = itertools.count(1)


def ev(kind: str, incident: str, when: str, **fields):
    at = datetime.fromisoformat(when).replace(tzinfo=ICT)
    return {"event_id": f"e{next(_ids)}", "event_type": kind, "incident_id": incident,
            "province_code": "01", "commune_code": COMMUNE, "occurred_at": at,
            "recorded_at": at, "corrects_event_id": None, **fields}


def received(incident: str, when: str, group: str = "property", source: str = "report"):
    return ev("report_received", incident, when, crime_group=group, source_type=source,
              severity="serious", channel="phone")


def scenario() -> list[dict]:
    a = received("A", "2026-11-01T09:00", source="denunciation")  # due 11-21
    admin = ev("admin_violation_sanctioned", "ADM", "2026-11-22T08:30",
               violations_detected=3, violations_sanctioned=2, violators=2, fine_vnd=1_000_000)
    fix = dict(admin, event_id="fix", corrects_event_id=admin["event_id"], fine_vnd=2_000_000)
    return [
        a, dict(a),  # a resent duplicate counts once
        ev("report_triaged", "A", "2026-11-02T10:00", outcome="accepted"),
        ev("report_resolved", "A", "2026-11-10T10:00", decision="institute"),  # on time
        ev("offence_cleared", "A", "2026-11-12T10:00", crime_group="property",
           severity="serious", suspects_count=2),
        ev("suspects_apprehended", "A", "2026-11-13T10:00", count=2, crime_group="property"),
        received("B", "2026-10-20T09:00", group="drugs"),  # due 11-09
        ev("report_resolved", "B", "2026-11-16T09:00", decision="decline"),  # late
        received("C", "2026-11-22T08:00"),  # today, open, due 12-12
        received("D", "2026-10-01T08:00"),  # due 10-21, extended to 12-01: open, not overdue
        ev("deadline_extended", "D", "2026-10-15T08:00", extension="complex_case", months=2),
        received("E", "2026-10-10T08:00"),  # due 10-30: open and overdue
        received("F", "2026-09-01T08:00"),  # due 09-21
        ev("report_resolved", "F", "2026-09-25T08:00", decision="suspend",
           suspension_reason="awaiting_documents"),  # late
        ev("report_resumed", "F", "2026-11-05T08:00", reason="resumed"),  # due 12-05, open
        admin, fix,
    ]


@pytest.fixture(scope="module")
def truth():
    return compute_truth(scenario(), NOW)


def test_period_bounds(truth):
    periods = truth["national"]["periods"]
    assert [(p["start"], p["end"]) for p in periods.values()] == [
        ("2026-11-22", "2026-11-22"), ("2026-11-01", "2026-11-30"),
        ("2026-11-15", "2026-12-14"), ("2026-01-01", "2026-11-22")]


def test_month_figures(truth):
    f = truth["national"]["periods"]["month"]["figures"]
    assert (f["received"], f["accepted"], f["resolved"], f["instituted"], f["declined"]) == (
        2, 1, 2, 1, 1)
    assert (f["resolved_on_time"], f["cleared"], f["suspects"]) == (1, 1, 2)
    assert f["fines_vnd"] == 2_000_000 and f["admin_violators"] == 2  # the correction won
    assert f["resolution_rate"] == 0.4  # 2 / (carried over B, D, E + received A, C)
    assert f["on_time_rate"] == 0.5 and f["clearance_rate"] == 1.0
    assert f["by_crime_group"]["drugs"] == {"received": 0, "resolved": 1, "cleared": 0}
    assert f["by_source_type"]["denunciation"] == 1 and f["by_source_type"]["report"] == 1


def test_today_and_ytd(truth):
    today = truth["national"]["periods"]["today"]["figures"]
    assert today["received"] == 1 and today["resolution_rate"] == 0.0  # 0 / (D, E, F + C)
    assert today["on_time_rate"] is None and today["clearance_rate"] is None
    ytd = truth["national"]["periods"]["ytd"]["figures"]
    assert (ytd["received"], ytd["resolved"], ytd["suspended"], ytd["resolved_on_time"]) == (
        6, 3, 1, 1)
    assert ytd["resolution_rate"] == 0.5


def test_stat_month_counts_the_resumed_report_as_carried_over(truth):
    f = truth["national"]["periods"]["stat_month"]["figures"]
    # received in [11-15, 12-14]: C; open at 11-15: B, D, E and F (resumed 11-05) -> 1/5
    assert f["received"] == 1 and f["resolved"] == 1 and f["resolution_rate"] == 0.2


def test_backlog(truth):
    assert truth["national"]["backlog"] == {"open": 4, "overdue": 1}  # C, D, E, F; E overdue
    province = truth["provinces"]["01"]
    assert province["backlog"] == {"open": 4, "overdue": 1}
    assert [c["code"] for c in province["children"]] == [COMMUNE]
    assert truth["provinces"]["79"]["backlog"] == {"open": 0, "overdue": 0}


def test_shape_and_unknowable_fields(truth):
    national = truth["national"]
    assert national["as_of"] is None and national["freshness"] is None
    assert len(national["children"]) == 34
    assert set(truth["provinces"]) == {c["code"] for c in national["children"]}


def test_compare_treats_missing_zero_entries_as_zero(truth):
    api = {k: v for k, v in truth["national"].items() if k != "children"}
    api["children"] = [c for c in truth["national"]["children"] if c["code"] == "01"]
    assert compare(truth["national"], api) == []
    api["backlog"] = {"open": 5, "overdue": 1}
    assert compare(truth["national"], api) == ["backlog.open: expected 4, got 5"]

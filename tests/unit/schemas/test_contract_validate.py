"""validate_batch: one validator for stream, sink, gateway and CLI."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from contract_helpers import NOW, check, reasons

from schemas import MAX_BATCH_EVENTS, Rejection, validate_batch
from schemas.examples import EVENT_TYPES, make_event
from schemas.units import communes_of


def _batch(n: int) -> list[dict]:
    return [make_event(EVENT_TYPES[i % len(EVENT_TYPES)]) for i in range(n)]


def test_accepts_every_input_form() -> None:
    events = _batch(3)
    blob = orjson.dumps(events)
    forms = [blob, bytearray(blob), memoryview(blob), blob.decode(), events]
    for form in forms:
        report = validate_batch(form, now=NOW)
        assert [str(e.event_id) for e in report.valid] == [e["event_id"] for e in events]
        assert report.ok
    single = validate_batch(orjson.dumps(events[0]), now=NOW)
    assert len(single.valid) == 1
    assert len(validate_batch(events[0], now=NOW).valid) == 1
    assert validate_batch(b"  \n" + blob, now=NOW).ok


def test_bad_events_never_stop_the_others() -> None:
    events = _batch(20)
    events[2]["commune_code"] = "99999"
    events[5]["channel"] = "fax"
    events[7] = "not an event"
    events[11] = None
    events[13]["extra"] = 1
    del events[17]["occurred_at"]
    report = check(*events)
    assert len(report.valid) == 14
    assert [r.index for r in report.rejected] == [2, 5, 7, 11, 13, 17]
    good = [e["event_id"] for i, e in enumerate(events) if i not in {2, 5, 7, 11, 13, 17}]
    assert [str(e.event_id) for e in report.valid] == good
    for rejection in report.rejected:
        assert rejection.reason
        assert rejection.raw
    assert report.rejected[0].event_id == events[2]["event_id"]
    assert report.rejected[2].event_id is None
    assert orjson.loads(report.rejected[0].raw) == events[2]


def test_rejection_path_names_the_field() -> None:
    event = make_event("deadline_extended", months=7)
    (rejection,) = check(event).rejected
    assert rejection == Rejection(
        0, event["event_id"], "months", rejection.reason, orjson.dumps(event)
    )
    assert rejection.reason.startswith("months: ")


@pytest.mark.parametrize(
    ("event", "path"),
    [
        ({"event_type": "report_triaged"}, "event_id"),
        ({"event_id": "x"}, "event_type"),
        ({**make_event("report_triaged"), "event_type": "report_lost"}, "event_type"),
        ({**make_event("report_triaged"), "event_type": None}, "event_type"),
    ],
)
def test_missing_or_unknown_event_type(event: dict, path: str) -> None:
    report = check(event)
    assert report.rejected[0].path == path


def test_impossible_times() -> None:
    occurred = datetime.fromisoformat("2026-11-20T10:00:00+07:00")
    before = make_event(
        "report_resolved", occurred_at=occurred, recorded_at=occurred - timedelta(seconds=1)
    )
    future = make_event(
        "report_received", occurred_at=NOW, recorded_at=NOW + timedelta(seconds=301)
    )
    edge = make_event("report_received", occurred_at=NOW, recorded_at=NOW + timedelta(seconds=300))
    report = check(before, future, edge)
    assert reasons(report) == [(0, "occurred_at"), (1, "recorded_at")]
    assert len(report.valid) == 1
    # the tolerance and the clock are parameters
    assert check(future, future_tolerance_s=400).ok
    assert check(future, now=NOW + timedelta(seconds=2)).ok


def test_offsets_are_compared_as_instants() -> None:
    """09:30+07:00 is 02:30Z: recorded 02:31Z is after it, whatever the offsets."""
    event = make_event(
        "report_triaged",
        occurred_at="2026-11-20T09:30:00+07:00",
        recorded_at="2026-11-20T02:31:00+00:00",
    )
    assert check(event).ok


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        validate_batch(b"[]", now=datetime(2026, 1, 1))  # noqa: DTZ001


def test_empty_batch_is_fine() -> None:
    report = validate_batch(b"[]", now=NOW)
    assert report.valid == [] and report.rejected == []


def test_oversized_batch_is_refused_as_a_whole() -> None:
    blob = orjson.dumps(_batch(MAX_BATCH_EVENTS + 1))
    report = validate_batch(blob, now=NOW)
    assert report.valid == []
    (rejection,) = report.rejected
    assert rejection.index is None
    assert "exceeds the limit of 1000" in rejection.reason
    assert rejection.raw == blob
    assert validate_batch(orjson.dumps(_batch(MAX_BATCH_EVENTS)), now=NOW).ok


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xff\xfe[]", "invalid UTF-8"),
        ('[{"a": "\udcff"}]', "invalid UTF-8"),
        (b'[{"event_id": "caf\xc3"]', "invalid UTF-8"),
        (b"[1, 2", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"{'single': 'quotes'}", "not valid JSON"),
        (b"NaN", "not valid JSON"),
        (b"[" * 100_000, "nested deeper"),  # no RecursionError for the stream or the sink
        (b'[{"event_id": ' + b"[" * 3000 + b"]" * 3000 + b"}]", "nested deeper"),
    ],
)
def test_unreadable_records(raw: bytes | str, words: str) -> None:
    report = validate_batch(raw, now=NOW)
    assert report.valid == []
    (rejection,) = report.rejected
    assert rejection.index is None and rejection.path == ""
    assert words in rejection.reason


@pytest.mark.parametrize("depth", [300, 990, 1020])
def test_deeply_nested_values_spoil_only_their_event(depth: int) -> None:
    """Nesting the parsers accept but Python's recursion cannot walk is a rejection, never a
    RecursionError (which would stop a stream or sink consumer on that record)."""
    good = [make_event("report_received") for _ in range(2)]
    deep = b"[" * depth + b"]" * depth
    raw = b"[%s,%s,{\"event_id\": %s}]" % (orjson.dumps(good[0]), deep, deep)
    raw = raw[:-1] + b"," + orjson.dumps(good[1]) + b"]"
    report = validate_batch(raw, now=NOW)
    assert [str(e.event_id) for e in report.valid] == [e["event_id"] for e in good]
    assert [r.index for r in report.rejected] == [1, 2]


@pytest.mark.parametrize("value", [b"42", b'"text"', b"null", b"true"])
def test_json_that_is_not_an_event(value: bytes) -> None:
    (rejection,) = validate_batch(value, now=NOW).rejected
    assert rejection.index == 0
    assert "expected an event object" in rejection.reason


def test_record_key_must_match_every_event() -> None:
    events = _batch(4)
    other = make_event("report_triaged", commune_code=communes_of("79")[0])
    events.insert(2, other)
    report = check(*events, expected_province="01")
    assert reasons(report) == [(2, "province_code")]
    assert "record key '01'" in report.rejected[0].reason
    assert report.rejected[0].event_id == other["event_id"]
    assert len(report.valid) == 4
    assert check(other, expected_province="79").ok


def test_key_mismatch_keeps_indices_with_other_errors() -> None:
    events = _batch(4)
    events[0]["channel"] = "fax"
    events[3] = make_event("report_triaged", commune_code=communes_of("79")[0])
    report = check(*events, expected_province="01")
    assert reasons(report)[0][0] == 0
    assert reasons(report)[-1] == (3, "province_code")


def test_duplicates_are_not_the_validators_business() -> None:
    event = make_event("report_triaged")
    assert len(check(event, event).valid) == 2


def test_fast_and_slow_paths_agree() -> None:
    """The same valid events come out whether or not the batch holds a bad one."""
    events = _batch(50)
    clean = check(*events).valid
    dirty = check(*events, {"event_type": "nope"}).valid
    assert clean == dirty


def test_rejection_to_dict_is_json_ready() -> None:
    (rejection,) = validate_batch(b"\xff", now=NOW).rejected
    row = rejection.to_dict()
    assert orjson.loads(orjson.dumps(row))["reason"].startswith("invalid UTF-8")


def test_mixed_failures_are_reported_in_input_order() -> None:
    events = _batch(12)
    events[1]["recorded_at"] = "2030-01-01T00:00:00+07:00"  # rule: future
    events[4]["months"] = "two"  # shape
    events[6] = make_event("report_triaged", commune_code=communes_of("79")[0])  # key
    events[9]["commune_code"] = "99999"  # rule: unknown unit
    events[10] = []  # not an object
    report = check(*events, expected_province="01")
    assert [r.index for r in report.rejected] == [1, 4, 6, 9, 10]
    assert [r.path for r in report.rejected] == [
        "recorded_at",
        "months" if events[4]["event_type"] == "deadline_extended" else report.rejected[1].path,
        "province_code",
        "commune_code",
        "",
    ]
    assert all(orjson.loads(r.raw) == events[r.index] for r in report.rejected)
    kept = [e["event_id"] for i, e in enumerate(events) if i not in {1, 4, 6, 9, 10}]
    assert [str(e.event_id) for e in report.valid] == kept


def test_huge_integers_spoil_only_their_event() -> None:
    good = make_event("report_triaged")
    huge = make_event("suspects_apprehended")
    blob = orjson.dumps([good, huge]).replace(b'"count":2', b'"count":' + b"9" * 30)
    report = validate_batch(blob, now=NOW)
    assert [str(e.event_id) for e in report.valid] == [good["event_id"]]
    assert reasons(report) == [(1, "count")]


def test_garbage_collector_state_is_restored() -> None:
    import gc

    assert gc.isenabled()
    check(*_batch(5))
    check({"event_type": "nope"})
    assert gc.isenabled()
    gc.disable()
    try:
        check(*_batch(5))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_invalid_utf8_spoils_only_its_event() -> None:
    good, bad = make_event("report_triaged"), make_event("report_received")
    blob = orjson.dumps([good, bad, good]).replace(b'"in_person"', b'"in_p\xc3rson"')
    report = validate_batch(blob, now=NOW)
    assert [str(e.event_id) for e in report.valid] == [good["event_id"]] * 2
    (rejection,) = report.rejected
    assert (rejection.index, rejection.event_id, rejection.path) == (1, bad["event_id"], "channel")
    assert "invalid UTF-8" in rejection.reason
    assert b'"in_p\xc3rson"' in rejection.raw  # the bytes as they came, for the dead letter
    bad_key = orjson.dumps([good, bad]).replace(b'"channel"', b'"chan\xffnel"')
    (rejection,) = validate_batch(bad_key, now=NOW).rejected
    assert (rejection.index, rejection.path) == (1, "(key)")

"""The validator's fast path against its reference path: the same reports, byte for byte.

``validate_batch`` (fast schema, text time checks, fast recovery) must give exactly what
``validate_batch_reference`` (the models' own schema for every record) gives: equal valid
events (same classes, values, UTC offsets and tzinfo types) and equal rejections (index,
event_id, path, reason, raw), for valid and mutated events and for mixed batches.
"""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from contract_helpers import NOW
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from test_contract_properties import MUTATIONS, valid_events

from schemas import legacy, validate_batch
from schemas.fastpath import FAST_LIST, FAST_ONE, FAST_READY
from schemas.models import AwareTime, ReportTriaged
from schemas.validate import validate_batch_reference

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
WIRE_TIME: TypeAdapter[datetime] = TypeAdapter(AwareTime)


def assert_same(raw: Any, **kwargs: Any) -> None:
    kwargs.setdefault("now", NOW)
    fast = validate_batch(raw, **kwargs)
    reference = validate_batch_reference(raw, **kwargs)
    assert fast.rejected == reference.rejected
    assert fast.valid == reference.valid
    for a, b in zip(fast.valid, reference.valid, strict=True):
        assert type(a) is type(b)
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__
        for name in ("occurred_at", "recorded_at"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x.utcoffset(), type(x.tzinfo), x.isoformat()) == (
                y.utcoffset(), type(y.tzinfo), y.isoformat()
            )


# --- times: the fast pattern + datetime.fromisoformat == pydantic's strict parser ------------

EDGES = {
    "year": ["0000", "0001", "1970", "2024", "2026", "9999"],
    "month": ["00", "01", "02", "12", "13"],
    "day": ["00", "01", "28", "29", "30", "31", "32"],
    "hour": ["00", "23", "24"],
    "minute": ["00", "59", "60"],
    "second": ["00", "59", "60"],
    "fraction": ["", ".0", ".5", ".50", ".123456", ".999999"],
    "offset": ["Z", "+00:00", "-00:00", "+07:00", "-12:30", "+23:59", "+24:00", "+00:60"],
}


def _wire(text: str) -> datetime | None:
    try:
        return WIRE_TIME.validate_json(json.dumps(text))
    except ValidationError:
        return None


def _fast(text: str) -> datetime | None:
    try:
        event = FAST_ONE.validate_json(orjson.dumps(_triaged(text)))
    except ValidationError:
        return None
    try:
        return datetime.fromisoformat(event.occurred_at)
    except ValueError:
        return None


def _triaged(occurred: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=1)), "event_type": "report_triaged", "schema_version": 1,
        "incident_id": "a1b2c3d4e5f6g7h8", "province_code": "01", "commune_code": "00070",
        "occurred_at": occurred, "recorded_at": "2026-11-20T09:31:00+07:00",
        "source_system": "hn-qlvv-1", "outcome": "accepted",
    }


def test_fast_time_pattern_never_accepts_what_pydantic_refuses() -> None:
    """Every edge combination: fast accepts => pydantic accepts the same instant and offset."""
    checked = 0
    for parts in itertools.product(*EDGES.values()):
        y, mo, d, h, mi, s, frac, off = parts
        text = f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac}{off}"
        fast = _fast(text)
        if fast is None:
            continue
        wire = _wire(text)
        assert wire is not None, text
        assert (wire, wire.utcoffset(), wire.replace(tzinfo=None)) == (
            fast, fast.utcoffset(), fast.replace(tzinfo=None)
        ), text
        assert type(wire.tzinfo) is type(fast.tzinfo) is timezone, text
        checked += 1
    assert checked > 10_000


@pytest.mark.parametrize(
    "text",
    ["2026-11-20 09:30:00+07:00", "2026-11-20t09:30:00+07:00", "2026-11-20T09:30:00z",
     "2026-11-20T09:30:00.1234567+07:00", "2026-11-20T09:30:00+0700", "2026-11-20T09:30+07:00",
     "2026-11-20T09:30:00+07:00:00", "2026-11-20T09:30:00", "20261120T093000Z"],
)
def test_unusual_time_formats_go_the_reference_way(text: str) -> None:
    """The fast schema refuses them; the report is still the reference path's."""
    with pytest.raises(ValidationError):
        FAST_ONE.validate_json(orjson.dumps(_triaged(text)))
    event = _triaged(text)
    assert_same(orjson.dumps([event, _triaged("2026-11-20T09:30:00+07:00")]))
    assert_same(orjson.dumps(event))


def test_fast_schema_builds_the_model_classes_with_text_times() -> None:
    """Guards the "prebuilt validator" workaround: a silent reuse would parse the times."""
    assert FAST_READY  # (else validate_batch would quietly take the reference path)
    (event,) = FAST_LIST.validate_json(orjson.dumps([_triaged("2026-11-20T09:30:00+07:00")]))
    assert type(event) is ReportTriaged
    assert event.occurred_at == "2026-11-20T09:30:00+07:00"
    own = ReportTriaged.model_validate_json(orjson.dumps(_triaged("2026-11-20T09:30:00+07:00")))
    assert isinstance(own.occurred_at, datetime)


def test_events_carry_standard_library_offsets() -> None:
    text = orjson.dumps([_triaged("2026-11-20T09:30:00+07:00"), _triaged("2026-11-20T01:00:00Z")])
    for report in (validate_batch(text, now=NOW), validate_batch_reference(text, now=NOW)):
        first, second = report.valid
        assert first.occurred_at.tzinfo == timezone(timedelta(hours=7))
        assert type(first.occurred_at.tzinfo) is timezone
        assert second.occurred_at.tzinfo is UTC


# --- time rules at their boundaries (the text comparison) ------------------------------------

OFFSETS = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30))]


@SETTINGS
@given(
    st.integers(-3_000_000, 3_000_000), st.integers(-3_000_000, 3_000_000),
    st.sampled_from(OFFSETS), st.sampled_from(OFFSETS), st.sampled_from(OFFSETS),
    st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]), st.booleans(),
)
def test_time_rules_at_the_limit(
    occurred_us: int, recorded_us: int, zone_o: Any, zone_r: Any, zone_now: Any, spec: str,
    z: bool,
) -> None:
    """Times around now + tolerance and around each other, in mixed offsets and precisions."""
    limit = NOW + timedelta(seconds=300)
    recorded = (limit + timedelta(microseconds=recorded_us)).astimezone(zone_r)
    occurred = (recorded + timedelta(microseconds=occurred_us)).astimezone(zone_o)

    def text(moment: datetime) -> str:
        out = moment.isoformat(timespec=spec)
        return out[:-6] + "Z" if z and out.endswith("+00:00") else out

    events = [{**_triaged(text(occurred)), "recorded_at": text(recorded)}] * 3
    assert_same(orjson.dumps(events), now=NOW.astimezone(zone_now))
    assert_same(orjson.dumps(events[0]), now=NOW.astimezone(zone_now))


@SETTINGS
@given(
    st.lists(st.integers(-400_000_000, 400_000_000), min_size=1, max_size=8),
    st.lists(st.integers(-600_000_000, 600_000_000), min_size=1, max_size=6),
    st.sampled_from(OFFSETS),
)
def test_time_rules_while_the_clock_moves(clock_us: list[int], recorded_us: list[int],
                                          zone: Any) -> None:
    """Text bounds are reused for later limits (and never for earlier ones): a clock moving
    back and forth by up to ~7 minutes around times recorded near it."""
    events = [
        {**_triaged("2026-11-20T09:30:00+07:00"),
         "recorded_at": (NOW + timedelta(microseconds=us)).astimezone(zone).isoformat()}
        for us in recorded_us
    ]
    for us in clock_us:
        now = NOW + timedelta(microseconds=us)
        assert_same(orjson.dumps(events), now=now)
        assert_same(orjson.dumps(events[0]), now=now)


def test_equal_times_written_differently() -> None:
    """53.5 and 53.50 are the same instant: text says "no", the exact comparison "yes"."""
    event = {
        **_triaged("2026-11-20T09:30:53.50+07:00"), "recorded_at": "2026-11-20T09:30:53.5+07:00"
    }
    report = validate_batch(orjson.dumps([event, event]), now=NOW)
    assert len(report.valid) == 2
    assert_same(orjson.dumps([event, event]))


# --- whole batches: valid, mutated, legacy, foreign, garbage ---------------------------------


def _legacy_communes() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    tables = legacy.tables()
    single, split = [], []
    for commune, province in sorted(tables.commune_province.items()):
        (single if len(tables.commune_to_2025[commune]) == 1 else split).append((province, commune))
    return single[::97], split[::97]


LEGACY_SINGLE, LEGACY_SPLIT = _legacy_communes()


@st.composite
def legacy_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_events())
    province, commune = draw(st.sampled_from(LEGACY_SINGLE + LEGACY_SPLIT))
    return {**event, "code_regime": "2004", "province_code": province, "commune_code": commune}


JUNK = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3),
    st.just({}), st.just({"event_type": "report_triaged"}), st.just(2**70),
    st.just([[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]),
)


@st.composite
def items(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["valid", "valid", "valid", "mutated", "legacy", "junk"]))
    if kind == "junk":
        return draw(JUNK)
    event = draw(legacy_events() if kind == "legacy" else valid_events())
    if kind == "mutated":
        event = draw(st.sampled_from(MUTATIONS))(event, draw)[0]
    if draw(st.integers(0, 9)) == 0:  # a correction, sometimes of itself
        target = event.get("event_id") if draw(st.booleans()) else str(uuid.uuid4())
        event = {**event, "corrects_event_id": target}
    return event


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # (integers beyond 64 bits: orjson cannot write them)


@SETTINGS
@given(st.lists(items(), min_size=1, max_size=40), st.sampled_from([None, "01", "79", "first"]))
def test_fast_path_equals_reference_on_mixed_batches(batch: list[Any], key: str | None) -> None:
    if key == "first":  # the province most events of a real record have
        first = batch[0]
        key = first.get("province_code") if isinstance(first, dict) else None
        key = key if isinstance(key, str) else None
    assert_same(_dumps(batch), expected_province=key)
    assert_same(_dumps(batch[0]), expected_province=key)
    assert_same(_dumps(batch), expected_province=key, max_events=len(batch) - 1)


@SETTINGS
@given(st.lists(valid_events(), min_size=1, max_size=60))
def test_fast_path_equals_reference_on_valid_batches(batch: list[dict[str, Any]]) -> None:
    assert_same(_dumps(batch))
    assert_same(_dumps(batch), expected_province=batch[0]["province_code"])


@pytest.mark.parametrize(
    "raw",
    [b"", b"[", b"[]", b"{}", b"null", b"5", b'"x"', b"\xff\xfe", b'[{"a": "\xff"}]',
     b"[" * 2000 + b"]" * 2000, b'[{"event_id": "x"}, 1, null]', b"[1e999]", b"[NaN]"],
)
def test_fast_path_equals_reference_on_unreadable_records(raw: bytes) -> None:
    assert_same(raw)
    assert_same(raw, expected_province="01")


def test_recovered_batch_keeps_an_unusual_but_valid_time() -> None:
    """A batch with one broken event and one valid event in a time shape the fast schema
    does not read: both judged exactly as the reference path judges them."""
    odd = _triaged("2026-11-20 09:30:00+07:00")
    broken = {**_triaged("2026-11-20T09:30:00+07:00"), "outcome": "maybe"}
    good = _triaged("2026-11-20T09:30:00+07:00")
    raw = orjson.dumps([good, odd, broken, good])
    report = validate_batch(raw, now=NOW)
    assert [r.index for r in report.rejected] == [2]
    assert len(report.valid) == 3
    assert_same(raw)


@pytest.mark.parametrize("number", ["-9223372036854775809", "99999999999999999999",
                                    "-9223372036854775808"])
def test_an_integer_beyond_64_bits_is_refused_for_its_value_by_every_path(number: str) -> None:
    """orjson reads integers beyond 64 bits as floats: an event refused for its value was
    refused as "not an integer" by the batch, and its raw bytes held a float (found by the
    property test in CI). Both paths and the event alone now give the same exact answer."""
    from schemas.recover import validate_one

    text = ('{"event_id":"00000000-0000-0000-0000-000000000001","event_type":"deadline_extended",'
            f'"schema_version":{number},"incident_id":"a1x1x1x1x1x1x1x1","province_code":"01",'
            '"commune_code":"00004","occurred_at":"2026-11-21T12:00:00+00:00",'
            '"recorded_at":"2026-11-21T12:00:00+00:00","source_system":"a0",'
            '"extension":"complex_case","months":1}')
    raw = f"[{text}, {{\"not\": \"an event\"}}]".encode()
    assert_same(raw)
    (rejection, _) = validate_batch(raw, now=NOW).rejected
    alone = validate_one(json.loads(text), index=0, limit=NOW + timedelta(seconds=300))
    assert rejection.reason == alone.reason  # type: ignore[union-attr]
    assert "than or equal to 1" in rejection.reason
    assert number.encode() in rejection.raw

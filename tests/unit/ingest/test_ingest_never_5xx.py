"""Whatever the body, the request pipeline ends in an answer or a RequestError (a 4xx), never
an unexpected exception (which the gateway would turn into a 500)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.body import gunzip, split_items
from ingest.errors import RequestError
from ingest.sorting import sort_items
from schemas import validate_batch
from schemas.examples import make_event

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
EVENT_KEYS = list(make_event("report_received"))


def run(body: bytes, ctype: str) -> None:
    try:
        items = split_items(body, ctype, max_events=100)
    except RequestError as exc:
        assert 400 <= exc.status < 500
        return
    raw = body if ctype == "application/json" else None
    batch = sort_items(items, validate_batch, now=NOW, province_code="01", raw_array=raw)
    answer = batch.answer("r")
    indexes = sorted([a["index"] for a in answer["accepted"]] +
                     [r["index"] for r in answer["rejected"]])
    assert indexes == list(range(len(items)))
    orjson.dumps(answer)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["application/json", "application/x-ndjson"]))
def test_arbitrary_bytes(body, ctype):
    run(body, ctype)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON, max_size=5))
def test_arbitrary_json_arrays(values):
    run(orjson.dumps(values), "application/json")
    run(b"\n".join(orjson.dumps(v) for v in values), "application/x-ndjson")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(EVENT_KEYS), JSON), max_size=4))
def test_events_with_one_field_garbled(changes):
    event = make_event("report_received")
    for key, value in changes:
        event[key] = value
    run(orjson.dumps([event, make_event("report_triaged")]), "application/json")


def test_odd_inputs():
    deep = b"[" * 1000 + b"]" * 1000  # parses (orjson allows 1024 levels), too deep to re-encode
    for body in (b"[18446744073709551616]", b'["\\ud800"]', b"[" * 5000 + b"]" * 5000,
                 b'[{"event_id": 1e400}]', b"\xff\xfe[]", b"[1]\n[2]", b"[" + deep + b"]",
                 b'[{"event_id": ' + deep + b'}, {"x": ' + deep + b"}]"):
        run(body, "application/json")
        run(body, "application/x-ndjson")
    for body in (b"\x1f\x8b\x08\x00", b"\x1f\x8b" + b"\x00" * 30):
        try:
            gunzip(body, max_decompressed=100)
        except RequestError as exc:
            assert exc.status == 400

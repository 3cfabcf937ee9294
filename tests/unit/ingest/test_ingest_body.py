"""Body decoding: gzip limits and truncation, JSON array vs NDJSON, event-count limit."""

from __future__ import annotations

import gzip

import pytest

from ingest.body import Unparseable, gunzip, split_items
from ingest.errors import RequestError


def test_gunzip_plain_and_multi_member():
    assert gunzip(gzip.compress(b"abc"), max_decompressed=100) == b"abc"
    both = gzip.compress(b"ab") + gzip.compress(b"cd")
    assert gunzip(both, max_decompressed=100) == b"abcd"


def test_truncated_gzip_is_400():
    body = gzip.compress(b"x" * 1000)
    with pytest.raises(RequestError) as err:
        gunzip(body[:-6], max_decompressed=10_000)
    assert err.value.status == 400 and err.value.code == "bad_gzip"


def test_garbage_gzip_is_400():
    with pytest.raises(RequestError) as err:
        gunzip(b"\x1f\x8bnot really", max_decompressed=100)
    assert err.value.status == 400


def test_gzip_bomb_is_413():
    body = gzip.compress(b"\0" * 1_000_000)
    with pytest.raises(RequestError) as err:
        gunzip(body, max_decompressed=10_000)
    assert err.value.status == 413


def test_json_array_and_errors():
    assert split_items(b'[{"a":1},{"b":2}]', "application/json", max_events=10) == [
        {"a": 1}, {"b": 2}]
    for body, code in ((b"[{", "invalid_json"), (b'{"a":1}', "not_an_array"),
                       (b"[]", "empty_batch")):
        with pytest.raises(RequestError) as err:
            split_items(body, "application/json", max_events=10)
        assert (err.value.status, err.value.code) == (400, code)


def test_ndjson_bad_line_is_only_that_line():
    items = split_items(b'{"a":1}\n\nnot json\n{"b":2}\n', "application/x-ndjson",
                        max_events=10)
    assert items[0] == {"a": 1} and items[2] == {"b": 2}
    assert isinstance(items[1], Unparseable)


def test_too_many_events_is_413():
    with pytest.raises(RequestError) as err:
        split_items(b"[1,2,3]", "application/json", max_events=2)
    assert err.value.status == 413 and err.value.extra["max_events"] == 2

"""``antt simulate --via none``: the truth file and the replayable NDJSON stream."""

from __future__ import annotations

import orjson

from antt.cli import main
from ingest.files import check_items, read_items
from schemas import validate_batch


def test_truth_and_stream_files(tmp_path):
    truth, out = tmp_path / "truth.json", tmp_path / "stream.ndjson"
    assert main(["simulate", "--via", "none", "--rate", "100", "--duration", "3",
                 "--duplicates", "0.1", "--malformed", "0.05", "--truth", str(truth),
                 "--out", str(out)]) == 0
    meta = orjson.loads(truth.read_bytes())["meta"]
    items = read_items(out)
    assert len(items) == meta["sent_items"] + meta["garbage_records"]
    from datetime import UTC, datetime

    checked = check_items(items, validate_batch, now=datetime.now(UTC))
    assert len(checked.valid) == meta["distinct_valid_events"] + meta["duplicates"]
    assert len(checked.rejected) == meta["dead_letters_expected"]


def test_ndjson_whose_first_line_is_an_array_or_garbage(tmp_path):
    """``--out`` may start with a malformed item (a JSON array) or an unparseable record:
    ``antt send`` must still read it as NDJSON, refusing only those lines."""
    from schemas.examples import make_event

    good = [make_event("report_received") for _ in range(2)]
    for first in (b'["not", "an", "event"]', b'[{"event_id": "'):
        path = tmp_path / "stream.ndjson"
        path.write_bytes(b"\n".join([first, *(orjson.dumps(e) for e in good)]) + b"\n")
        items = read_items(path)
        assert len(items) == 3 and items[1:] == good
    import pytest

    from ingest.files import EventFileError

    broken = tmp_path / "broken.json"
    for body in (b'[{"event_id": "x"},\n', b'[\n  {"event_id": "x"},\n  {"event_id": "y"}\n',
                 orjson.dumps(good, option=orjson.OPT_INDENT_2)[:-30]):
        broken.write_bytes(body)
        with pytest.raises(EventFileError):
            read_items(broken)

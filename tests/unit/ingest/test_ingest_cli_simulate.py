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

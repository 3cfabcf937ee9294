"""``antt validate`` and ``antt schema export``, through the real CLI entry point."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import jsonschema
import orjson
import pytest

from antt.cli import main
from schemas.examples import EVENT_TYPES, make_event
from schemas.units import communes_of

NOW = "2026-11-21T12:00:00+00:00"


def _events(n: int) -> list[dict]:
    return [make_event(EVENT_TYPES[i % len(EVENT_TYPES)]) for i in range(n)]


def test_validate_json_array_reports_each_bad_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events(2500)  # more than one Kafka batch: a file has no batch limit
    events[3]["commune_code"] = "99999"
    events[1700]["cccd"] = "001203004567"
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps(events))
    assert main(["validate", str(path), "--now", NOW]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["[3]", events[3]["event_id"], "commune_code"]
    assert lines[1].split("\t")[:3] == ["[1700]", events[1700]["event_id"], "cccd"]
    assert lines[-1] == "2500 events: 2498 valid, 2 invalid"


def test_validate_ndjson_with_broken_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events(6)
    lines = [orjson.dumps(e) for e in events]
    lines[1] = b'{"event_id": '
    lines[3] = b"\xff\xfe{}"
    lines.append(orjson.dumps(_events(3)))  # a line may hold a whole batch
    lines.insert(2, b"")
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["validate", str(path), "--now", NOW, "--json"]) == 1
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["where"] for r in rows[:-1]] == ["line 2", "line 5"]
    assert "not valid JSON" in rows[0]["reason"]
    assert "invalid UTF-8" in rows[1]["reason"]
    assert rows[-1] == {"summary": {"events": 9, "valid": 7, "invalid": 2}}


def test_validate_stdin_all_valid(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"\n".join(orjson.dumps(e) for e in _events(5))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["validate", "-", "--now", NOW]) == 0
    assert capsys.readouterr().out.strip() == "5 events: 5 valid, 0 invalid"


def test_validate_uses_the_clock_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(orjson.dumps(make_event("report_triaged")))  # recorded 2026-11-20 09:31+07
    assert main(["validate", str(path), "--now", "2026-11-20T09:00:00+07:00", "-q"]) == 1
    assert main(["validate", str(path), "--now", NOW, "--province", "79", "-q"]) == 1
    assert main(["validate", str(path), "--now", NOW, "--province", "01", "-q"]) == 0
    capsys.readouterr()


def test_validate_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[{]")
    assert main(["validate", str(bad), "--now", NOW]) == 1
    assert "not valid JSON" in capsys.readouterr().out


def test_validate_ndjson_of_batches_and_a_truncated_array(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batches = [_events(3), _events(2)]
    batches[1][1]["severity"] = "mild"
    path = tmp_path / "batches.ndjson"  # every line a batch: the file starts with "["
    path.write_bytes(b"\n".join(orjson.dumps(b) for b in batches) + b"\n")
    assert main(["validate", str(path), "--now", NOW]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in out[:-1]] == ["line 2[1]"]
    assert out[-1] == "5 events: 4 valid, 1 invalid"
    path.write_bytes(orjson.dumps(_events(3))[:-40])  # a JSON array cut short
    assert main(["validate", str(path), "--now", NOW]) == 1
    assert capsys.readouterr().out.startswith("file\t-\t-\tnot valid JSON")


def test_schema_export_validates_examples(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "export", str(tmp_path / "out")]) == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "event.v1.schema.json" in files and "record.v1.schema.json" in files
    assert len(files) == 2 + len(EVENT_TYPES)
    event_schema = orjson.loads((tmp_path / "out" / "event.v1.schema.json").read_bytes())
    record_schema = orjson.loads((tmp_path / "out" / "record.v1.schema.json").read_bytes())
    jsonschema.Draft202012Validator.check_schema(event_schema)
    registry = jsonschema.validators.Draft202012Validator(event_schema)
    for event_type in EVENT_TYPES:
        registry.validate(make_event(event_type))
    for bad in (
        make_event("report_received", channel="fax"),
        make_event("report_received", note="free text"),
        make_event("report_triaged", incident_id="001203004567"),
        make_event("report_triaged", schema_version=2),
        {**make_event("report_triaged"), "event_type": "report_lost"},
    ):
        assert not registry.is_valid(bad), bad
    record = jsonschema.Draft202012Validator(record_schema)  # self-contained
    assert record.is_valid(_events(3))
    assert record.is_valid(make_event("report_triaged"))
    assert not record.is_valid([])
    assert not record.is_valid(_events(1001))
    assert not record.is_valid([make_event("report_received", channel="fax")])
    assert not record.is_valid(make_event("report_triaged", note="free text"))
    for event_type in EVENT_TYPES:
        one = orjson.loads((tmp_path / "out" / f"{event_type}.v1.schema.json").read_bytes())
        jsonschema.Draft202012Validator(one).validate(make_event(event_type))
    capsys.readouterr()


def test_make_event_helper() -> None:
    commune = communes_of("79")[0]
    event = make_event("report_received", commune_code=commune, channel=...)
    assert "channel" not in event
    assert (event["province_code"], event["commune_code"]) == ("79", commune)
    assert make_event("report_triaged")["event_id"] != make_event("report_triaged")["event_id"]
    with pytest.raises(ValueError):
        make_event("report_lost")

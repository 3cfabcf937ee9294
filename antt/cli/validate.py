"""``antt validate FILE``: check events against the contract, one report line per bad event.

FILE holds NDJSON (one event, or one batch array, per line) or one JSON array; ``-`` reads
stdin. The validator is :func:`schemas.validate_batch`, the same one the stream, the sink and
the gateway use. Exit status: 0 all valid, 1 some invalid, 2 the file could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import orjson

from antt.settings import Settings

if TYPE_CHECKING:
    from schemas import Rejection

CHUNK = 1000  # events per validate_batch call (the Kafka batch limit)


@dataclass
class Tally:
    events: int = 0
    valid: int = 0
    invalid: int = 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "validate",
        help="validate events (NDJSON or a JSON array) against the contract",
        description="Validate every event in FILE and report each invalid one (index, "
        "event_id, field path, reason) and a summary. Exit status 1 if any event is invalid.",
    )
    parser.add_argument("file", metavar="FILE", help="NDJSON or JSON array file; - for stdin")
    parser.add_argument(
        "--now", type=_aware, default=None, help="clock for the future rule (ISO, with offset)"
    )
    parser.add_argument("--province", default=None, help="expected province (a record key)")
    parser.add_argument(
        "--json", action="store_true", help="print rejections and the summary as NDJSON"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(func=run)


def _aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("--now needs a UTC offset, e.g. 2026-11-22T07:00+07:00")
    return value


def run(args: argparse.Namespace, settings: Settings) -> int:
    from schemas import validate_batch

    try:
        data = _read(args.file)
    except OSError as exc:
        print(f"antt validate: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    now = args.now or datetime.now(UTC)
    tally = Tally()
    try:
        for record, locate in _records(data):
            report = validate_batch(
                record,
                now=now,
                expected_province=args.province,
                future_tolerance_s=settings.future_tolerance_s,
                max_events=sys.maxsize,  # a file is not a Kafka record: no batch size limit
            )
            tally.events += len(report.valid) + len(report.rejected)
            tally.valid += len(report.valid)
            tally.invalid += len(report.rejected)
            if not args.quiet:
                for rejection in report.rejected:
                    _print_rejection(sys.stdout, rejection, locate(rejection.index), args.json)
        _print_summary(sys.stdout, tally, args.json)
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # the interpreter flushes at exit
        return 1
    return 1 if tally.invalid else 0


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    with open(name, "rb") as handle:
        return handle.read()


Locate = Callable[[int | None], str]


def _records(data: bytes) -> Iterator[tuple[bytes | list[Any], Locate]]:
    """(record, locate) pairs; ``locate`` turns a rejection index into a file location."""
    if data.lstrip()[:1] != b"[":
        yield from _line_groups(data)
        return
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError:
        if data.strip().endswith(b"]"):  # NDJSON whose lines are arrays (batches)
            yield from _line_groups(data)
        else:  # a broken array: the validator says why it is unreadable
            yield data, lambda index: "file"
        return
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK], _offset_locator(start)


def _offset_locator(start: int) -> Locate:
    return lambda index: "record" if index is None else f"[{start + index}]"


def _line_groups(data: bytes) -> Iterator[tuple[bytes | list[Any], Locate]]:
    """Single-event lines go in groups of CHUNK; a line holding an array is its own record."""
    group: list[bytes] = []
    numbers: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped[:1] == b"[":
            yield stripped, _line_locator(number)
            continue
        group.append(stripped)
        numbers.append(number)
        if len(group) == CHUNK:
            yield from _group(group, numbers)
            group, numbers = [], []
    if group:
        yield from _group(group, numbers)


def _line_locator(number: int) -> Locate:
    return lambda index: f"line {number}" if index is None else f"line {number}[{index}]"


def _group(lines: list[bytes], numbers: list[int]) -> Iterator[tuple[bytes, Locate]]:
    joined = b"[" + b",".join(lines) + b"]"
    try:
        orjson.loads(joined)
    except orjson.JSONDecodeError:
        for line, number in zip(lines, numbers, strict=True):  # find the unreadable lines
            yield line, _single_line_locator(number)
        return
    yield joined, lambda index: "?" if index is None else f"line {numbers[index]}"


def _single_line_locator(number: int) -> Locate:
    return lambda index: f"line {number}"


def _print_rejection(out: IO[str], rejection: Rejection, where: str, as_json: bool) -> None:
    if as_json:
        row = {"where": where, **rejection.to_dict()}
        out.write(orjson.dumps(row).decode() + "\n")
        return
    event_id = rejection.event_id or "-"
    path = rejection.path or "-"
    out.write(f"{where}\t{event_id}\t{path}\t{rejection.reason}\n")


def _print_summary(out: IO[str], tally: Tally, as_json: bool) -> None:
    if as_json:
        summary = {"events": tally.events, "valid": tally.valid, "invalid": tally.invalid}
        out.write(orjson.dumps({"summary": summary}).decode() + "\n")
        return
    out.write(f"{tally.events} events: {tally.valid} valid, {tally.invalid} invalid\n")

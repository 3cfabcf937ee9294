"""``antt schema export DIR``: write the JSON Schema files of the event contract."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from antt.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "schema",
        help="export the event contract as JSON Schema",
        description="JSON Schema (draft 2020-12) of one event, of a Kafka record value (an "
        "event or an array of up to 1000) and of each event type. docs/events.md explains them.",
    )
    actions = parser.add_subparsers(dest="schema_action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write the schema files into DIR")
    export.add_argument("directory", metavar="DIR", type=Path)
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.jsonschema import export

    try:
        written = export(args.directory)
    except OSError as exc:
        print(f"antt schema export: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0

"""``antt stack up|down|status``: the embedded local stack (dev/test only)."""

from __future__ import annotations

import argparse
import json
import sys

from antt.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "stack",
        help="start/stop the embedded local stack (Tansu broker + local ClickHouse)",
        description="The single-machine stack: Tansu Kafka broker (memory storage: data is lost "
        "when it stops) on ANTT_STACK_KAFKA_PORT and a ClickHouse-HTTP server over chDB on "
        "ANTT_STACK_CLICKHOUSE_PORT; data and logs under ANTT_STACK_DIR (.antt/).",
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.set_defaults(func=run)


def _stack(settings: Settings):  # noqa: ANN202 - devstack is imported lazily
    from devstack.stack import Stack

    return Stack(settings.stack_dir, settings.stack_kafka_port, settings.stack_clickhouse_port)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.stack import StackError

    stack = _stack(settings)
    try:
        if args.action == "up":
            stack.up()
            print(f"kafka      {stack.kafka_bootstrap}  (log {stack.kafka.log_path})")
            print(f"clickhouse {stack.clickhouse_url}  (log {stack.clickhouse.log_path})")
        elif args.action == "down":
            stack.down()
            print("stack stopped")
        else:
            status = stack.status()
            print(json.dumps(status, indent=2))
            return 0 if all(s["answers"] for s in status.values()) else 1
    except StackError as exc:
        print(f"antt stack {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0

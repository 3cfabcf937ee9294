"""The ``antt`` command: one entry point, one module per sub-command group.

Each module in :data:`COMMANDS` has ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed namespace and the settings, returning an exit code).
Modules are imported lazily so that ``antt validate`` does not pay for Faust's import.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (module, sub-command name(s)): the module registers the sub-command(s) it owns.
COMMANDS = [
    "antt.cli.stack",
    "antt.cli.db",
    "antt.cli.worker",
    "antt.cli.sink",
    "antt.cli.validate",
    "antt.cli.schema",
    "antt.cli.gateway",
    "antt.cli.send",
    "antt.cli.simulate",
    "antt.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="antt", description="Live national statistics backend for commune-level police."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # sub-command not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from antt.settings import load_settings

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings()
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``antt gateway [serve]`` and ``antt gateway token add|list|revoke``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from antt.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "gateway",
        help="HTTP gateway for provincial systems (POST /api/v1/events) and its tokens",
        description="Runs the ingestion gateway on ANTT_GATEWAY_HOST:ANTT_GATEWAY_PORT, or "
        "manages its per-province bearer tokens in ANTT_GATEWAY_TOKENS_FILE (stored hashed; "
        "the running gateway picks changes up without a restart). See docs/integrators.md.",
    )
    parser.set_defaults(func=run_serve, host=None, port=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    serve = actions.add_parser("serve", help="run the gateway (the default)")
    serve.add_argument("--host", default=None, help="listen address (default from settings)")
    serve.add_argument("--port", type=int, default=None, help="listen port (default 8080)")
    serve.set_defaults(func=run_serve)

    token = actions.add_parser("token", help="manage bearer tokens")
    token_actions = token.add_subparsers(dest="token_action", metavar="TOKEN_ACTION",
                                         required=True)
    add = token_actions.add_parser("add", help="create a token; prints it once")
    add.add_argument("--province", required=True, help="2-digit 2025 province code")
    add.add_argument("--label", default="", help="who holds it (logged instead of the token)")
    add.add_argument("--expires-days", type=float, default=None,
                     help="expire after this many days (default: never)")
    add.set_defaults(func=run_token_add)
    listing = token_actions.add_parser("list", help="list tokens (hash prefix, province, label)")
    listing.set_defaults(func=run_token_list)
    revoke = token_actions.add_parser("revoke", help="remove every token with a label")
    revoke.add_argument("--label", required=True)
    revoke.set_defaults(func=run_token_revoke)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.server import serve

    serve(settings, host=args.host, port=args.port)
    return 0


def run_token_add(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.tokens import add_token
    from schemas.units import PROVINCES

    if args.province not in PROVINCES:
        print(f"antt gateway token add: unknown province code {args.province!r}",
              file=sys.stderr)
        return 2
    expires_at = None
    if args.expires_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=args.expires_days)
    token, info = add_token(
        settings.gateway_tokens_file, args.province, label=args.label, expires_at=expires_at
    )
    print(token)
    print(
        f"stored sha256 {info.token_sha256[:12]}... for province {info.province_code} in "
        f"{settings.gateway_tokens_file}; this is the only time the token is shown",
        file=sys.stderr,
    )
    return 0


def run_token_list(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.tokens import read_token_file

    now = datetime.now(UTC)
    for info in read_token_file(settings.gateway_tokens_file):
        expiry = info.expires_at.isoformat() if info.expires_at else "never"
        state = "expired" if info.expired(now) else "active"
        print(f"{info.token_sha256[:12]}  {info.province_code}  {state:7}  {expiry}  "
              f"{info.label}")
    return 0


def run_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.tokens import revoke_tokens

    removed = revoke_tokens(settings.gateway_tokens_file, label=args.label)
    print(f"removed {removed} token(s) labelled {args.label!r}", file=sys.stderr)
    return 0 if removed else 1

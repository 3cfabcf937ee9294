"""Apply ``roles.sql`` and create the service users: a one-shot job before ``antt db migrate``.

    python deploy/clickhouse/apply_roles.py deploy/clickhouse/roles.sql \
        --user antt_migrate:antt_migrator:/run/secrets/ch_migrate_password \
        --user antt_sink:antt_writer:/run/secrets/ch_sink_password

Connects with the ANTT_CLICKHOUSE_* settings (an administrator with access management).
With ANTT_CLICKHOUSE_CLUSTER set, every statement goes through ``sinks.cluster.to_cluster``
(grants and row policies then also cover the ``_local`` tables the shards read) and the
migrator gets the CLUSTER privilege that ON CLUSTER DDL needs. The example users of roles.sql
(fixed 'change-me' passwords) are skipped: service users come from ``--user`` with a password
file, people are added by an administrator (docs/operations.md). Safe to run again: it
creates what is missing and resets the service users' passwords and default roles.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from antt.settings import Settings, load_settings
from sinks.cluster import split_statements, to_cluster, tokenize

log = logging.getLogger("apply_roles")



def role_statements(sql: str, cluster: str | None) -> list[str]:
    """The statements of roles.sql to run, example users left out, in cluster form if asked."""
    out: list[str] = []
    for statement in split_statements(sql):
        if _is_example_user(statement):
            continue
        out += to_cluster(statement, cluster) if cluster else [statement]
    if cluster:
        out.append("GRANT CLUSTER ON *.* TO antt_migrator")
    return out


def _is_example_user(statement: str) -> bool:
    """``CREATE USER ...`` or ``GRANT role TO user`` (a grant without ON): left to --user."""
    words = [t.upper for t in tokenize(statement)]  # comments are not tokens
    if words[:2] == ["CREATE", "USER"]:
        return True
    return words[:1] == ["GRANT"] and "ON" not in words


def user_statements(spec: str) -> list[str]:
    """``name:role:password_file`` -> CREATE/ALTER USER and the role grant."""
    name, role, secret = spec.split(":", 2)
    if not re.fullmatch(r"\w+", name) or not re.fullmatch(r"\w+", role):
        raise ValueError(f"bad user spec {spec!r}: want name:role:password_file")
    password = Path(secret).read_text(encoding="utf-8").strip()
    if len(password) < 16:
        raise ValueError(f"password in {secret} is shorter than 16 characters")
    quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    identified = f"IDENTIFIED WITH sha256_password BY {quoted}"
    return [
        f"CREATE USER IF NOT EXISTS {name} {identified}",
        f"ALTER USER {name} {identified}",
        f"GRANT {role} TO {name}",
        f"ALTER USER {name} DEFAULT ROLE {role}",
    ]


def apply(settings: Settings, statements: list[str]) -> None:
    from sinks.client import make_client

    client = make_client(settings)
    try:
        for statement in statements:
            shown = re.sub(r"BY '.*'", "BY '***'", statement.splitlines()[0])
            log.info("%s", shown[:120])
            client.command(statement)
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("roles_sql", type=Path)
    parser.add_argument("--user", action="append", default=[], help="name:role:password_file")
    parser.add_argument("--dry-run", action="store_true", help="print the statements only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings()
    statements = role_statements(args.roles_sql.read_text("utf-8"), settings.clickhouse_cluster)
    if args.dry_run:
        sys.stdout.write(";\n".join(statements) + ";\n")
        return 0
    for spec in args.user:
        statements += user_statements(spec)
    apply(settings, statements)
    log.info("roles and %d service users in place", len(args.user))
    return 0


if __name__ == "__main__":
    sys.exit(main())

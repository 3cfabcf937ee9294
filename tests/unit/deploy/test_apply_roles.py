"""deploy/clickhouse/apply_roles.py: which statements it runs (no server)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "apply_roles", ROOT / "deploy" / "clickhouse" / "apply_roles.py"
    )
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


SQL = """-- header
CREATE ROLE IF NOT EXISTS antt_writer;
GRANT INSERT ON antt.events_raw TO antt_writer;
GRANT SELECT ON antt.* TO antt_writer;
-- Example users
CREATE USER IF NOT EXISTS antt_sink IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_writer;
GRANT antt_writer TO antt_sink;
"""


def test_single_node_keeps_roles_and_grants_but_not_example_users() -> None:
    statements = module().role_statements(SQL, None)
    assert [s.splitlines()[-1] for s in statements] == [
        "CREATE ROLE IF NOT EXISTS antt_writer",
        "GRANT INSERT ON antt.events_raw TO antt_writer",
        "GRANT SELECT ON antt.* TO antt_writer",
    ]


def test_cluster_form_covers_local_tables_and_grants_cluster_to_the_migrator() -> None:
    statements = module().role_statements(SQL, "antt")
    assert "GRANT INSERT ON antt.events_raw_local TO antt_writer" in statements
    assert statements[-1] == "GRANT CLUSTER ON *.* TO antt_migrator"
    assert not any("change-me" in s for s in statements)


def test_service_user_password_comes_from_a_file_and_is_quoted(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("ab'cd\\efgh-ijklmnop\n")
    create, alter, grant, default = module().user_statements(f"antt_sink:antt_writer:{secret}")
    assert create == (
        "CREATE USER IF NOT EXISTS antt_sink IDENTIFIED WITH sha256_password BY "
        "'ab\\'cd\\\\efgh-ijklmnop'"
    )
    assert alter.startswith("ALTER USER antt_sink IDENTIFIED")
    assert grant == "GRANT antt_writer TO antt_sink"
    assert default == "ALTER USER antt_sink DEFAULT ROLE antt_writer"


@pytest.mark.parametrize("spec", ["x;y:antt_writer:{f}", "antt_sink:antt_writer:{short}"])
def test_bad_user_specs_are_refused(tmp_path: Path, spec: str) -> None:
    good, short = tmp_path / "good", tmp_path / "short"
    good.write_text("a" * 20)
    short.write_text("abc")
    with pytest.raises(ValueError):
        module().user_statements(spec.format(f=good, short=short))

"""Local ClickHouse-HTTP-compatible server over the embedded chDB engine (dev/test only).

Run it with ``python -m devstack.chserver --host 127.0.0.1 --port 8123 --path DATA_DIR``;
see ``docs/local-clickhouse.md`` for what it supports.
"""

from devstack.chserver.errors import ChError
from devstack.chserver.server import ChServer, DataDirBusyError

__all__ = ["ChError", "ChServer", "DataDirBusyError"]

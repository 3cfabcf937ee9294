"""Run SQL steps in one chDB session in a child process (python chdb_runner.py < job.json).

chDB keeps one engine per process and a session holding Replicated tables does not exit
cleanly, so tests run it here and read the JSON answer from ``job["out"]``; the process ends
with ``os._exit`` once the answer is written.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    job = json.load(sys.stdin)
    import chdb.session

    url = f"file:{job['path']}?config-file={job['config']}"
    session = chdb.session.Session(url)
    results: list[dict[str, object]] = []
    for step in job["steps"]:
        try:
            out = session.query(step["sql"], "JSONCompact")
            data = json.loads(str(out)).get("data") if str(out).strip() else None
            results.append({"ok": True, "data": data})
        except Exception as exc:  # noqa: BLE001 - the test reads the message
            results.append({"ok": False, "error": str(exc)[:2000], "sql": step["sql"]})
            if step.get("stop_on_error", True):
                break
    with open(job["out"], "w", encoding="utf-8") as fh:
        json.dump(results, fh)
    os._exit(0)


if __name__ == "__main__":
    main()

"""The gateway's OpenAPI document: ``ingest/openapi.yaml`` with the contract's event schema.

The YAML holds a placeholder ``Event``; :func:`document` fills it in from
:func:`schemas.jsonschema.event_schema`, moving its ``$defs`` into ``components.schemas``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml

SPEC_PATH = Path(__file__).with_name("openapi.yaml")


@cache
def _document_bytes() -> bytes:
    from schemas.jsonschema import event_schema

    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    event = event_schema()
    defs = event.pop("$defs", {})
    for key in ("$schema", "$id"):
        event.pop(key, None)
    text = orjson.dumps({"defs": defs, "event": event}).decode()
    moved = orjson.loads(text.replace('"#/$defs/', '"#/components/schemas/'))
    schemas = spec["components"]["schemas"]
    clashes = set(moved["defs"]) & set(schemas)
    if clashes:
        raise ValueError(f"event schema names clash with the gateway's: {sorted(clashes)}")
    schemas.update(moved["defs"])
    schemas["Event"] = moved["event"]
    return orjson.dumps(spec)


def document() -> dict[str, Any]:
    """The full OpenAPI document (a fresh dict)."""
    return orjson.loads(_document_bytes())


def document_json() -> bytes:
    return _document_bytes()

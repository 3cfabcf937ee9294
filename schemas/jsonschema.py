"""JSON Schema (draft 2020-12) of the wire format, generated from the models.

``antt schema export DIR`` writes these files; integrators validate against them. Cross-field
rules (unit membership, time order, future tolerance, suspension reason) cannot be expressed
in JSON Schema: ``antt validate`` and :func:`schemas.validate_batch` apply them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter

from schemas.models import EVENT_CLASSES, SCHEMA_VERSION, Event
from schemas.validate import MAX_BATCH_EVENTS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "urn:antt:schemas"


def event_schema() -> dict[str, Any]:
    """One event of any type (a ``oneOf`` with ``event_type`` as discriminator)."""
    schema = TypeAdapter(Event).json_schema(mode="validation")
    schema["$schema"] = DIALECT
    schema["$id"] = f"{BASE_ID}:event:v{SCHEMA_VERSION}"
    schema["title"] = f"antt event v{SCHEMA_VERSION}"
    schema["description"] = (
        "One event of the antt contract. See docs/events.md; cross-field rules are applied by "
        "the validator, not by this schema."
    )
    return schema


def batch_schema() -> dict[str, Any]:
    """A Kafka record value: one event, or an array of up to MAX_BATCH_EVENTS events.

    Self-contained: the event schema is embedded (as its own resource) under ``$defs``.
    """
    embedded = event_schema()
    del embedded["$schema"]
    return {
        "$schema": DIALECT,
        "$id": f"{BASE_ID}:record:v{SCHEMA_VERSION}",
        "title": f"antt Kafka record value v{SCHEMA_VERSION}",
        "description": (
            "One event object, or a JSON array of 1 to "
            f"{MAX_BATCH_EVENTS} events of the same province (the record key)."
        ),
        "$defs": {"event": embedded},
        "oneOf": [
            {"$ref": f"{BASE_ID}:event:v{SCHEMA_VERSION}"},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_EVENTS,
                "items": {"$ref": f"{BASE_ID}:event:v{SCHEMA_VERSION}"},
            },
        ],
    }


def type_schemas() -> dict[str, dict[str, Any]]:
    """One standalone schema per event type, keyed by ``event_type``."""
    out: dict[str, dict[str, Any]] = {}
    for cls in EVENT_CLASSES:
        name = cls.model_fields["event_type"].annotation.__args__[0]  # type: ignore[union-attr]
        schema = cls.model_json_schema(mode="validation")
        schema["$schema"] = DIALECT
        schema["$id"] = f"{BASE_ID}:{name}:v{SCHEMA_VERSION}"
        out[name] = schema
    return out


def export(directory: Path) -> list[Path]:
    """Write every schema file into ``directory`` (created if needed); return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        f"event.v{SCHEMA_VERSION}.schema.json": event_schema(),
        f"record.v{SCHEMA_VERSION}.schema.json": batch_schema(),
    }
    for name, schema in type_schemas().items():
        files[f"{name}.v{SCHEMA_VERSION}.schema.json"] = schema
    written = []
    for filename, schema in files.items():
        path = directory / filename
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        written.append(path)
    return written

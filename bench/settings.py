"""`--set KEY=VALUE` for the quality suites: settings read from the command line and routed to
the part (data, model or training) whose dataclass has a field of that name."""

from __future__ import annotations

import json
from typing import Any


def parse_setting(item: str) -> tuple[str, Any]:
    """`lr=0.002` -> ("lr", 0.002): the value is read as JSON when it can be, else kept a string."""
    key, sep, value = item.partition("=")
    if not sep:
        raise SystemExit(f"error: --set wants KEY=VALUE, not {item!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def route(overrides: dict[str, Any], owners: dict[str, type]) -> dict[str, dict[str, Any]]:
    """{part: {key: value}} for each override, its part the first of `owners` (part -> settings
    dataclass) with a field `key`; SystemExit names a key no part has."""
    parts: dict[str, dict[str, Any]] = {part: {} for part in owners}
    for key, value in overrides.items():
        part = next((p for p, c in owners.items() if key in c.__dataclass_fields__), None)
        if part is None:
            raise SystemExit(f"error: --set {key}: not a setting of the {', '.join(owners)}")
        parts[part][key] = value
    return parts

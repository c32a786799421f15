"""How the space parser's messages show where a problem is and what was given: JSON paths
(`$.space.layer.options[1].units.low`, `$.space["odd key"]`) and values as JSON."""

from __future__ import annotations

import json

from parzen.service.space.model import NAME_PATTERN


def child_path(path: str, name: object) -> str:
    if isinstance(name, str) and NAME_PATTERN.match(name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name if isinstance(name, str) else str(name))}]"


def show(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)

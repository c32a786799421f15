"""What the client hands back from an ask or a lease: a Trial (with its lease token) or a
finalization job."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

AskStatus = Literal["ok", "wait", "done", "paused", "stopped"]


@dataclass(frozen=True)
class Trial:
    id: int
    study: str
    number: int
    attempt: int
    params: dict[str, Any]
    metric: str
    direction: str
    objective: dict[str, Any] = field(default_factory=dict)
    lease_seconds: float = 60.0
    # The attempt's secret: every report, heartbeat, tell, release and upload carries it.
    lease_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class Ask:
    status: AskStatus
    reason: str
    trial: Trial | None
    evaluation: dict[str, Any] | None = None  # a finalization job (sealed test evaluation)


def ask_from_json(body: dict[str, Any]) -> Ask:
    raw = body.get("trial")
    trial = None
    if raw is not None:
        trial = Trial(
            id=raw["id"],
            study=raw["study"],
            number=raw["number"],
            attempt=raw["attempt"],
            params=raw["params"],
            metric=raw["metric"],
            direction=raw["direction"],
            objective=raw["objective"],
            lease_seconds=raw["lease_seconds"],
            lease_token=raw["lease_token"],
        )
    return Ask(
        status=body["status"],
        reason=body.get("reason", ""),
        trial=trial,
        evaluation=body.get("evaluation"),
    )


def finite_values(values: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such a value is sent as null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }

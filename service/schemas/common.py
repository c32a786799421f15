"""What every request body shares: the strict base model, the name pattern, the lease token."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from parzen.service.limits import SafeStr

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"

# The secret an ask or lease hands out with a trial; every write to that trial carries it.
LeaseToken = Annotated[
    SafeStr,
    Field(min_length=1, max_length=100, description="The lease_token that ask or lease returned."),
]


class Strict(BaseModel):
    """A request body: unknown fields refused; no NaN or infinity (JSON cannot carry them,
    and the dashboard's plain JSON could not read them back)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

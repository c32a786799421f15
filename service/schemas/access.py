"""Token and worker bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from parzen.service.limits import (
    MAX_GPU_LENGTH,
    MAX_HOST_LENGTH,
    MAX_LIST_ITEMS,
    DbInt,
    Name,
    SafeStr,
)
from parzen.service.schemas.common import Strict
from parzen.service.storage.records import Role


class TokenCreate(Strict):
    role: Role
    name: Name = ""


class TokenPublic(BaseModel):
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown once: only its hash is stored.")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


class WorkerRegister(Strict):
    host: SafeStr = Field(max_length=MAX_HOST_LENGTH)
    pid: DbInt | None = None
    gpu: SafeStr | None = Field(None, max_length=MAX_GPU_LENGTH)
    builders: list[Name] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    datasets: list[Name] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)


class WorkerPublic(BaseModel):
    id: str
    host: str
    pid: int | None
    gpu: str | None
    builders: list[str]
    datasets: list[str]
    registered_at: datetime
    last_seen_at: datetime
    current_trial_id: int | None
    trials_done: int
    trials_failed: int
    state: str


class WorkersPublic(BaseModel):
    data: list[WorkerPublic]
    count: int

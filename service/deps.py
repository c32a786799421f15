"""FastAPI dependencies, named once with Annotated and used by every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.params import StudyName
from service.artifacts import ArtifactStore
from service.config import Settings
from service.db.base import utcnow
from service.proposals import SamplerPool
from service.storage import Storage, StudyRecord, TokenRecord
from service.storage.records import ROLE_RANK, Role


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_artifacts(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


def get_samplers(request: Request) -> SamplerPool:
    pool: SamplerPool = request.app.state.samplers
    return pool


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SamplersDep = Annotated[SamplerPool, Depends(get_samplers)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]

_bearer = HTTPBearer(auto_error=False, description="A token from `parzen token create`.")
LOCAL_TOKEN = TokenRecord(
    id=0, name="local mode", role="admin", created_at=utcnow(), revoked_at=None
)


def current_token(
    storage: StorageDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenRecord:
    if not settings.auth:
        return LOCAL_TOKEN
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = storage.authenticate(token=credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def require(role: Role) -> Callable[[TokenRecord], TokenRecord]:
    def check(token: Annotated[TokenRecord, Depends(current_token)]) -> TokenRecord:
        if ROLE_RANK[token.role] < ROLE_RANK[role]:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs a {role} token; yours is {token.role}",
            )
        return token

    return check


ViewerDep = Annotated[TokenRecord, Depends(require("viewer"))]
WorkerDep = Annotated[TokenRecord, Depends(require("worker"))]
AdminDep = Annotated[TokenRecord, Depends(require("admin"))]


def valid_study(storage: StorageDep, name: StudyName) -> StudyRecord:
    return storage.get_study(name=name)  # NotFoundError becomes a 404 in main.py


StudyDep = Annotated[StudyRecord, Depends(valid_study)]

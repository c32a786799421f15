"""FastAPI dependencies, named once with Annotated and used by every route.

Those that touch no database are `async def`: FastAPI runs a plain `def` dependency in its
thread pool, a hop that costs more than the dependency itself on a route as hot as a report.
The token check is one of them while its token is cached (`current_token`).

Authentication comes before any lookup: a dependency that looks something up by a path
parameter depends on the role check itself (`viewer_study`, `admin_study`), so however a
route orders its parameters, a caller without a token gets 401 and one with too weak a role
403, for things that exist and things that do not alike.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parzen.service.access import FailureLimiter, client_host
from parzen.service.api.params import StudyName
from parzen.service.artifacts import ArtifactStore
from parzen.service.config import Settings
from parzen.service.db.base import utcnow
from parzen.service.offload import Offload
from parzen.service.proposals import SamplerPool
from parzen.service.storage import Storage, StudyRecord, TokenRecord
from parzen.service.storage.records import ROLE_RANK, Role


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_artifacts(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


async def get_samplers(request: Request) -> SamplerPool:
    pool: SamplerPool = request.app.state.samplers
    return pool


async def get_offload(request: Request) -> Offload:
    offload: Offload = request.app.state.offload
    return offload


StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SamplersDep = Annotated[SamplerPool, Depends(get_samplers)]
ArtifactsDep = Annotated[ArtifactStore, Depends(get_artifacts)]
OffloadDep = Annotated[Offload, Depends(get_offload)]

_bearer = HTTPBearer(auto_error=False, description="A token from `parzen token create`.")
LOCAL_TOKEN = TokenRecord(
    id=0, name="local mode", role="admin", created_at=utcnow(), revoked_at=None
)


def refuse_if_throttled(request: Request) -> None:
    """429 while the client's address has too many failed tokens in the last minute.

    Checked before the token is: while an address is blocked even a good token from it is
    refused, or the block would not slow guessing (a right guess would still get through).
    """
    limiter: FailureLimiter = request.app.state.auth_failures
    host = client_host(request)
    wait = limiter.retry_after(host)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed tokens from {host or 'this address'}: try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )


def authenticate(request: Request, storage: Storage, token: str) -> TokenRecord | None:
    """The token's record, or None (counted against the client's address); 429 first while
    the address is throttled."""
    refuse_if_throttled(request)
    return look_up(request, storage, token)


def look_up(request: Request, storage: Storage, token: str) -> TokenRecord | None:
    """`authenticate` for a caller that already checked the throttle."""
    record = storage.authenticate(token=token)
    if record is None:
        limiter: FailureLimiter = request.app.state.auth_failures
        limiter.failed(client_host(request))
    return record


async def current_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenRecord:
    """The caller's token: from this process's token cache on the event loop, else looked
    up in the database in the thread pool (the only part of it that may block). It reads
    the storage and settings from the app's state, not as dependencies of its own: every
    route with a token runs this, and each dependency FastAPI solves costs CPU."""
    storage: Storage = request.app.state.storage
    settings: Settings = request.app.state.settings
    if not settings.auth:
        return LOCAL_TOKEN  # loopback clients only: service.access.LoopbackOnly
    if credentials is None:  # not a guess: not counted
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    refuse_if_throttled(request)
    token = storage.cached_token(token=credentials.credentials)
    if token is None:
        token = await run_in_threadpool(look_up, request, storage, credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


def check_role(token: TokenRecord, role: Role) -> TokenRecord:
    """`token` if its role is at least `role`, else 403."""
    if ROLE_RANK[token.role] < ROLE_RANK[role]:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs a {role} token; yours is {token.role}",
        )
    return token


@cache  # one check per role, so FastAPI runs it once per request however often it is named
def require(role: Role) -> Callable[[TokenRecord], Coroutine[None, None, TokenRecord]]:
    async def check(token: Annotated[TokenRecord, Depends(current_token)]) -> TokenRecord:
        return check_role(token, role)

    return check


ViewerDep = Annotated[TokenRecord, Depends(require("viewer"))]
WorkerDep = Annotated[TokenRecord, Depends(require("worker"))]
AdminDep = Annotated[TokenRecord, Depends(require("admin"))]


# One lookup per role, each depending on its role check, so FastAPI solves the check first
# (module-level functions: FastAPI resolves their string annotations in this module).
def viewer_study(storage: StorageDep, name: StudyName, _: ViewerDep) -> StudyRecord:
    return storage.get_study(name=name)  # NotFoundError becomes a 404 in main.py


def admin_study(storage: StorageDep, name: StudyName, _: AdminDep) -> StudyRecord:
    return storage.get_study(name=name)


StudyDep = Annotated[StudyRecord, Depends(viewer_study)]
AdminStudyDep = Annotated[StudyRecord, Depends(admin_study)]

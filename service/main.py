"""The app factory: storage, samplers, routes, error mapping and the lease reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from service import dashboard, metrics
from service.access import FailureLimiter, LoopbackOnly
from service.api import artifacts, finalizations, health, studies, tokens, trials, workers
from service.artifacts import open_store
from service.config import MAKE_A_TOKEN, Settings, get_settings
from service.db.engine import make_engine
from service.proposals import SamplerPool
from service.storage import ConflictError, NotFoundError, Storage

log = logging.getLogger("parzen.service")


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> FastAPI:
    settings = settings or get_settings()
    storage = storage or Storage(
        make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A database that is down at start-up must not keep the server down: /readyz says
        # so, and the reaper finishes the start-up once the database answers.
        started = await run_in_threadpool(_start_up, storage, settings)
        reaper = asyncio.create_task(_reap_leases(storage, settings, started))
        yield
        reaper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reaper

    app = FastAPI(
        title="Parzen",
        summary="Hyperparameter optimization for Keras models: TPE over SQL, GPU workers.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.samplers = SamplerPool()
    app.state.artifacts = open_store(settings)
    app.state.auth_failures = FailureLimiter(limit=settings.auth_failures_per_minute)
    if not settings.auth:
        app.add_middleware(LoopbackOnly)  # whatever host the server was told to bind

    api = APIRouter(prefix="/api/v1")
    for module in (studies, trials, tokens, workers, finalizations, artifacts):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)  # /healthz, /readyz, /metrics: no token (probes)
    dashboard.install(app)  # pages at /, their data under /dashboard

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(ConflictError)
    async def conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)

    return app


def _warn_without_admin(storage: Storage) -> None:
    """Say once, at start-up, why nothing can be created yet and how to fix it."""
    if not any(t.role == "admin" and t.revoked_at is None for t in storage.list_tokens()):
        log.warning(
            "auth is on and the database has no admin token, so no study or token can be "
            "created: make one with export PARZEN_ADMIN_TOKEN=$(%s) and restart the server",
            MAKE_A_TOKEN,
        )


def _start_up(storage: Storage, settings: Settings) -> bool:
    """Register the first admin token and warn if there is none; False if the database
    did not answer (then the reaper tries again at each sweep)."""
    try:
        if settings.admin_token:
            storage.ensure_token(
                role="admin", name="PARZEN_ADMIN_TOKEN", token=settings.admin_token
            )
        if settings.auth:
            _warn_without_admin(storage)
    except Exception as exc:  # the database is down or not migrated yet: /readyz says which
        log.warning("start-up deferred, the database did not answer: %s", exc)
        return False
    return True


async def _reap_leases(storage: Storage, settings: Settings, started: bool) -> None:
    """Requeue trials of lost workers even when nobody asks (the dashboard shows the truth)."""
    while True:
        await asyncio.sleep(settings.reaper_interval)
        if not started:
            started = await run_in_threadpool(_start_up, storage, settings)
            if not started:
                continue
        try:
            leases = await run_in_threadpool(storage.expire_leases)
            metrics.count_expired(leases)
            expired = leases.total + await run_in_threadpool(storage.expire_finalizations)
        except Exception:  # the next sweep retries; a failed sweep must not kill the server
            log.exception("lease sweep failed")
            continue
        if expired:
            log.info("requeued or failed %d trial(s) with expired leases", expired)

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

from service import dashboard
from service.api import artifacts, finalizations, studies, tokens, trials, workers
from service.artifacts import open_store
from service.config import Settings, get_settings
from service.db.engine import make_engine
from service.proposals import SamplerPool
from service.storage import ConflictError, NotFoundError, Storage

log = logging.getLogger("parzen.service")


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> FastAPI:
    settings = settings or get_settings()
    storage = storage or Storage(make_engine(settings.database_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token:
            storage.ensure_token(
                role="admin", name="PARZEN_ADMIN_TOKEN", token=settings.admin_token
            )
        reaper = asyncio.create_task(_reap_leases(storage, settings.reaper_interval))
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

    api = APIRouter(prefix="/api/v1")
    for module in (studies, trials, tokens, workers, finalizations, artifacts):
        api.include_router(module.router)
    app.include_router(api)
    dashboard.install(app)  # pages at /, their data under /dashboard

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(ConflictError)
    async def conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)

    return app


async def _reap_leases(storage: Storage, interval: float) -> None:
    """Requeue trials of lost workers even when nobody asks (the dashboard shows the truth)."""
    while True:
        await asyncio.sleep(interval)
        try:
            expired = await run_in_threadpool(storage.expire_leases)
            expired += await run_in_threadpool(storage.expire_finalizations)
        except Exception:  # the next sweep retries; a failed sweep must not kill the server
            log.exception("lease sweep failed")
            continue
        if expired:
            log.info("requeued or failed %d trial(s) with expired leases", expired)

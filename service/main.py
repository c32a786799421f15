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
from service.artifacts import ArtifactStore
from service.config import Settings, get_settings
from service.db.engine import make_engine
from service.proposals import SamplerPool
from service.storage import ConflictError, NotFoundError, Storage, StorageUnavailable

log = logging.getLogger("parzen.service")
RETRY_AFTER_SECONDS = 2  # what a 503 asks clients to wait; the SDK backs off on its own too


def create_app(settings: Settings | None = None, storage: Storage | None = None) -> FastAPI:
    settings = settings or get_settings()
    storage = storage or Storage(make_engine(settings.database_url))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_token:
            storage.ensure_token(
                role="admin", name="PARZEN_ADMIN_TOKEN", token=settings.admin_token
            )
        # Until a first sweep has granted a grace, nothing expires: the workers could not
        # reach this process while it was down (see storage/leases.py).
        storage.hearing.deafen()
        reaper = asyncio.create_task(
            _reap_leases(storage, settings.reaper_interval, settings.lease_seconds)
        )
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
    app.state.artifacts = ArtifactStore(settings.artifact_dir)

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

    @app.exception_handler(StorageUnavailable)
    async def unavailable(_: Request, exc: StorageUnavailable) -> JSONResponse:
        # Nothing was applied: the client may send the same request again (the SDK does).
        return JSONResponse(
            {"detail": f"{exc}; retry in {RETRY_AFTER_SECONDS} s"},
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's idiom for 500s: ServerErrorMiddleware sends this answer, then re-raises
        # so that the server logs the traceback and drops the connection. Connection: close
        # says so, or a keep-alive client would send its next request into a closed socket.
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); the server's log has the cause"},
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            headers={"Connection": "close"},
        )

    return app


async def _reap_leases(storage: Storage, interval: float, lease_seconds: float) -> None:
    """Requeue trials of lost workers even when nobody asks (the dashboard shows the truth);
    the first sweep after start-up or an outage grants a grace instead."""
    while True:
        try:
            expired = await run_in_threadpool(
                storage.sweep_leases, finalization_lease_seconds=lease_seconds
            )
        except StorageUnavailable as exc:  # one line per sweep while the database is away
            log.warning("lease sweep skipped: %s", exc)
        except Exception:  # the next sweep retries; a failed sweep must not kill the server
            log.exception("lease sweep failed")
        else:
            if expired:
                log.info("requeued or failed %d trial(s) with expired leases", expired)
        await asyncio.sleep(interval)

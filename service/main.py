"""The app factory: storage, samplers, routes, error mapping and the lease reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from parzen.service import algorithms, api_docs, dashboard, metrics
from parzen.service.access import FailureLimiter, LoopbackOnly
from parzen.service.api import (
    artifacts,
    finalizations,
    health,
    imports,
    studies,
    tokens,
    trials,
    workers,
)
from parzen.service.api.errors import validation_failed
from parzen.service.api.responses import EVERY_API_ROUTE
from parzen.service.artifacts import open_store
from parzen.service.body_limit import BodyLimitMiddleware
from parzen.service.config import MAKE_A_TOKEN, Settings, get_settings
from parzen.service.db.engine import make_engine
from parzen.service.offload import Offload
from parzen.service.proposals import SamplerPool
from parzen.service.storage import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Storage,
    StorageUnavailable,
)

log = logging.getLogger("parzen.service")
RETRY_AFTER_SECONDS = 2  # what a 503 asks clients to wait; the SDK backs off on its own too


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
        # Until a first sweep has granted a grace, nothing expires: the workers could not
        # reach this process while it was down (see storage/sweeps.py).
        storage.hearing.deafen()
        await run_in_threadpool(algorithms.preload)  # not in the first asks
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
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by api_docs from installed assets: no CDN
        redoc_url=None,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.state.settings = settings
    app.state.storage = storage
    storage.cache_tokens(seconds=settings.token_cache_seconds)
    app.state.samplers = SamplerPool()
    app.state.offload = Offload(threads=settings.db_pool_size + settings.db_max_overflow)
    app.state.artifacts = open_store(settings)
    app.state.auth_failures = FailureLimiter(limit=settings.auth_failures_per_minute)
    if not settings.auth:
        app.add_middleware(LoopbackOnly)  # whatever host the server was told to bind

    # Each module's router straight under the app: one included router fewer to pass
    # through on every request than an /api/v1 router holding them all.
    for module in (studies, imports, trials, tokens, workers, finalizations, artifacts):
        app.include_router(module.router, prefix="/api/v1", responses=EVERY_API_ROUTE)
    app.include_router(health.router)  # /healthz, /readyz, /metrics: no token (probes)
    dashboard.install(app)  # pages at /, their data under /dashboard
    api_docs.install(app)  # /docs and /redoc, offline

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)

    @app.exception_handler(ForbiddenError)
    async def forbidden(_: Request, exc: ForbiddenError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status.HTTP_403_FORBIDDEN)

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


def _operation_id(route: APIRoute) -> str:
    """Readable operation ids for generated clients: `studies-create`, `trials-get_by_id`,
    not `create_study_api_v1_studies_post` (the FastAPI template's
    `generate_unique_id_function` idiom); the route's own name, less the resource its tag
    already names."""
    if not route.tags:
        return route.name
    tag = str(route.tags[0])
    nouns = {tag, _singular(tag)}
    action = [word for word in route.name.split("_") if word not in nouns]
    return f"{tag}-{'_'.join(action) or route.name}"


def _singular(noun: str) -> str:
    return noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")


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
    """Requeue trials of lost workers even when nobody asks (the dashboard shows the truth);
    the first sweep after start-up or an outage grants a grace instead."""
    while True:
        if not started:
            started = await run_in_threadpool(_start_up, storage, settings)
        try:
            leases, finalizations = await run_in_threadpool(
                storage.sweep_leases, finalization_lease_seconds=settings.lease_seconds
            )
            metrics.count_expired(leases)
            expired = leases.total + finalizations
        except StorageUnavailable as exc:  # one line per sweep while the database is away
            log.warning("lease sweep skipped: %s", exc)
        except Exception:  # the next sweep retries; a failed sweep must not kill the server
            log.exception("lease sweep failed")
        else:
            if expired:
                log.info("requeued or failed %d trial(s) with expired leases", expired)
        await asyncio.sleep(settings.reaper_interval)

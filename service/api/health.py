"""Probes and scraping, all unauthenticated: /healthz (alive), /readyz (can serve), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from parzen.service import metrics
from parzen.service.db.migrate import schema_problem
from parzen.service.deps import SettingsDep, StorageDep
from parzen.service.storage import DatabaseUnreachable

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (says nothing of the database: that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready, with the reason."}})
def readyz(storage: StorageDep) -> JSONResponse:
    """The database answers and its schema is the one this server was built for."""
    try:
        problem = schema_problem(storage.schema_revision())
    except DatabaseUnreachable as exc:
        problem = str(exc)
    if problem:
        return JSONResponse(
            {"status": "unavailable", "detail": problem}, status.HTTP_503_SERVICE_UNAVAILABLE
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(storage: StorageDep, settings: SettingsDep) -> Response:
    body = await run_in_threadpool(metrics.render, storage, settings.lease_seconds)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)

"""Parameter plots and importance, built from complete trials and cached until one finishes."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from parzen.service.dashboard import views
from parzen.service.dashboard.auth import StudyDep, ViewerDep
from parzen.service.dashboard.cache import StudyCache
from parzen.service.dashboard.downsample import evenly_spaced
from parzen.service.dashboard.importance import Importance, forest_importance
from parzen.service.dashboard.params import ParamTable, ParamView
from parzen.service.deps import StorageDep
from parzen.service.storage import Storage, StudyRecord

router = APIRouter(prefix="/dashboard/api", include_in_schema=False)

MAX_LINES = 1000  # parallel coordinates and slices: more lines than this only blur the plot


def get_cache(request: Request) -> StudyCache:
    cache: StudyCache = request.app.state.dashboard_cache
    return cache


CacheDep = Annotated[StudyCache, Depends(get_cache)]


def param_table(storage: Storage, cache: StudyCache, study: StudyRecord) -> ParamTable:
    key = ("params", study.id, study.created_at, views.finished_count(study))
    return cache.get(
        key, lambda: ParamView.of(study.space).table(storage.complete_vals(study_name=study.name))
    )


@router.get("/studies/{name}/params")
def params(
    study: StudyDep,
    storage: StorageDep,
    cache: CacheDep,
    _: ViewerDep,
    top: Annotated[float, Query(gt=0, le=100)] = 100,
    limit: Annotated[int, Query(ge=10, le=5000)] = MAX_LINES,
) -> JSONResponse:
    """Complete trials' parameters by column: the best `top` percent, at most `limit` of
    them spread evenly over the value ranks (the best always kept), worst first."""
    table = param_table(storage, cache, study)
    ranked = sorted(range(len(table.values)), key=lambda i: study.sign * table.values[i])
    chosen = ranked[: max(1, math.ceil(len(ranked) * top / 100))] if ranked else []
    rows = list(reversed(evenly_spaced(chosen, limit)))  # the best drawn last, on top
    return views.json_response(
        {
            "direction": study.direction,
            "metric": study.metric,
            "total": len(table.values),
            "chosen": len(chosen),
            "numbers": [table.numbers[i] for i in rows],
            "values": [table.values[i] for i in rows],
            "dimensions": [
                {
                    "label": column.label,
                    "kind": column.kind,
                    "log": column.log,
                    "options": column.options,
                    "bounds": column.bounds,
                    "values": [column.values[i] for i in rows],
                }
                for column in table.columns
            ],
        }
    )


@router.get("/studies/{name}/importance")
def importance(study: StudyDep, storage: StorageDep, cache: CacheDep, _: ViewerDep) -> JSONResponse:
    key = ("importance", study.id, study.created_at, views.finished_count(study))
    result: Importance = cache.get(
        key, lambda: forest_importance(param_table(storage, cache, study))
    )
    return views.json_response(
        {
            "method": result.method,
            "trials": result.trials,
            "labels": [label for label, _ in result.scores],
            "scores": [score for _, score in result.scores],
            "active": [result.active.get(label, result.trials) for label, _ in result.scores],
        }
    )

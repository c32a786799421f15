"""Compare 2-5 studies: their best-so-far histories on one plot (by trial and by epochs
trained), their best values and parameters side by side."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response

from parzen.service.dashboard import views
from parzen.service.dashboard.auth import PageViewerDep, ViewerDep
from parzen.service.dashboard.not_found import found
from parzen.service.dashboard.templating import render
from parzen.service.deps import SettingsDep, StorageDep
from parzen.service.storage import Storage

router = APIRouter(include_in_schema=False)
MIN_STUDIES, MAX_STUDIES = 2, 5
Studies = Annotated[list[str], Query(alias="study")]


def _checked(names: list[str]) -> list[str]:
    unique = list(dict.fromkeys(names))
    if not MIN_STUDIES <= len(unique) <= MAX_STUDIES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"compare {MIN_STUDIES} to {MAX_STUDIES} distinct studies (?study=a&study=b), "
            f"not {len(unique)}",
        )
    return unique


def _series(storage: Storage, name: str) -> dict[str, Any]:
    study = storage.get_study(name=name)
    maximize = study.direction == "maximize"
    numbers, epochs, best_values = [], [], []
    best: float | None = None
    trained = 0
    best_trial = None
    for number, value, steps in storage.finished_with_epochs(study_name=name):
        trained += steps
        if best is None or (value > best if maximize else value < best):
            best, best_trial = value, number
        numbers.append(number)
        epochs.append(trained)
        best_values.append(best)
    params = None
    if best_trial is not None:
        params = views.flat_params(storage.get_trial(study_name=name, number=best_trial).params)
    return {
        "name": name,
        "direction": study.direction,
        "metric": study.metric,
        "state": study.state,
        "trials": study.trial_counter,
        "best_value": best,
        "best_trial": best_trial,
        "best_params": params,
        "number": numbers,
        "epochs": epochs,
        "best": best_values,
    }


@router.get("/dashboard/api/compare")
def compare_data(storage: StorageDep, _: ViewerDep, study: Studies) -> JSONResponse:
    names = _checked(study)
    # A missing study is the API's JSON 404 (service/main.py's NotFoundError handler).
    return views.json_response({"studies": [_series(storage, n) for n in names]})


@router.get("/compare")
def compare_page(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    token: PageViewerDep,
    study: Studies,
) -> Response:
    names = _checked(study)
    with found(token):
        series = [_series(storage, n) for n in names]
    keys = list(dict.fromkeys(k for s in series for k in (s["best_params"] or {})))
    context = {
        "auth": settings.auth,
        "token": token,
        "studies": series,
        "param_keys": keys,
        "page_data": {"studies": names},
    }
    return render(request, "compare.html", context)

"""Server-rendered pages: the studies, one study, one trial. `?partial=1` renders only the
part a page refreshes live (the studies table, a study's summary, a trial's body)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import RedirectResponse, Response

from parzen.service.api.params import TrialId, TrialNumber
from parzen.service.dashboard import views
from parzen.service.dashboard.auth import PageViewerDep
from parzen.service.dashboard.not_found import PageStudyDep, found
from parzen.service.dashboard.params import ParamView
from parzen.service.dashboard.report import study_report
from parzen.service.dashboard.templating import render
from parzen.service.dashboard.views import (
    best_params,
    epoch_summary,
    finished_count,
    last_activity,
    study_summaries,
    study_summary,
)
from parzen.service.deps import SettingsDep, StorageDep
from parzen.service.storage import Storage, StudyRecord, TokenRecord, TrialRecord

router = APIRouter(include_in_schema=False)
MEDIAN_EPOCHS = 20_000  # epochs read for a pruned trial's median curve (the oldest first)


@router.get("/")
def studies_page(
    request: Request,
    storage: StorageDep,
    settings: SettingsDep,
    token: PageViewerDep,
    partial: bool = False,
) -> Response:
    records, total = storage.list_studies(limit=1000)
    context = {"studies": study_summaries(storage, records), "total": total}
    name = "studies_table.html" if partial else "studies.html"
    return render(request, name, _shared(settings.auth, token) | context)


@router.get("/studies/{name}")
def study_page(
    request: Request,
    study: PageStudyDep,
    storage: StorageDep,
    settings: SettingsDep,
    token: PageViewerDep,
    partial: bool = False,
) -> Response:
    context = _shared(settings.auth, token) | _study_context(storage, study)
    return render(request, "study_summary.html" if partial else "study.html", context)


@router.get("/studies/{name}/trials/{number}")
def trial_page(
    request: Request,
    study: PageStudyDep,
    number: TrialNumber,
    storage: StorageDep,
    settings: SettingsDep,
    token: PageViewerDep,
    partial: bool = False,
) -> Response:
    name = study.name
    with found(token):
        trial = storage.get_trial(study_name=name, number=number)
    context = _shared(settings.auth, token) | _trial_context(study, trial)
    if trial.state == "pruned":  # against what it was stopped: the others' median per epoch
        context["page_data"]["median"] = views.median_by_step(
            storage.epochs_after(study_name=name, limit=MEDIAN_EPOCHS), trial.number
        )
    return render(request, "trial_body.html" if partial else "trial.html", context)


@router.get("/trials/{trial_id}")
def trial_by_id(trial_id: TrialId, storage: StorageDep, token: PageViewerDep) -> Response:
    with found(token):
        trial = storage.get_trial_by_id(trial_id=trial_id)
    target = f"/studies/{trial.study_name}/trials/{trial.number}"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


def _shared(auth: bool, token: TokenRecord) -> dict[str, Any]:
    return {"auth": auth, "token": token}


def _study_context(storage: Storage, study: StudyRecord) -> dict[str, Any]:
    stamp = storage.study_stamp(study_name=study.name)
    best = None
    if study.counts.get("complete"):
        best = storage.table_trials(
            study_name=study.name,
            states=("complete",),
            order="value",
            descending=study.direction == "maximize",
            limit=1,
        )[0][0]
    view = ParamView.of(study.space)
    activity = last_activity(storage, study, stamp.last_intermediate_id)
    return {
        "study": study,
        "summary": study_summary(study, activity, epoch_summary(storage, study)),
        "last_activity": activity,
        "best": best,
        "best_params": best_params(best),
        "finished": finished_count(study),
        "report": study_report(storage, study),
        "page_data": {
            "name": study.name,
            "direction": study.direction,
            "metric": study.metric,
            "seq": stamp.change_seq,
            "epoch": stamp.last_intermediate_id,
            "labels": view.labels,
        },
    }


def _trial_context(study: StudyRecord, trial: TrialRecord) -> dict[str, Any]:
    epochs = [v for v in trial.intermediate if v.attempt == trial.attempt]
    metrics = sorted({key for epoch in epochs for key in epoch.values})
    return {
        "study": study,
        "trial": trial,
        "params": ParamView.of(study.space).display(trial.vals),
        "epochs": epochs,
        "metrics": metrics,
        "artifact": trial.metrics.get("artifact"),
        "other_metrics": {k: v for k, v in trial.metrics.items() if k != "artifact"},
        "page_data": {
            "name": study.name,
            "number": trial.number,
            "state": trial.state,
            "metric": study.metric,
            "direction": study.direction,
            "epochs": len(trial.intermediate),
            "attempt": trial.attempt,
            "steps": [e.step for e in epochs],
            "series": {key: [e.values.get(key) for e in epochs] for key in metrics},
        },
    }

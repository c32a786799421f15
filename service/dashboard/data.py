"""JSON for the study page's scripts: history, trial table, live changes, workers, timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from starlette.responses import Response

from parzen.service.api.artifacts import artifact_file
from parzen.service.api.params import Page, Stamp, TrialId, TrialNumber
from parzen.service.dashboard import views
from parzen.service.dashboard.auth import StudyDep, ViewerDep
from parzen.service.dashboard.downsample import minmax_decimate, records
from parzen.service.dashboard.params import ParamView
from parzen.service.deps import ArtifactsDep, StorageDep
from parzen.service.storage.dashboard import TABLE_ORDERS, TableOrder, TrialPoint
from parzen.service.storage.records import TrialState

router = APIRouter(prefix="/dashboard/api", include_in_schema=False)

HISTORY_BUCKETS = 1000  # at most 2 points per bucket: 2,000 points drawn, whatever the study
CHANGED_TRIALS_LIMIT = 500  # more changes than this between two polls: the page reloads its data
EPOCHS_LIMIT = 5000
TIMELINE_LIMIT = 1500
CSV_LIMIT = 100_000
ParamOrder = Annotated[str | None, Query(max_length=500, description="sort by this parameter")]


@router.get("/studies")
def studies(storage: StorageDep, _: ViewerDep) -> JSONResponse:
    records, total = storage.list_studies(limit=1000)
    return views.json_response({"studies": views.study_summaries(storage, records), "count": total})


@router.get("/studies/{name}/history")
def history(study: StudyDep, storage: StorageDep, _: ViewerDep) -> JSONResponse:
    """Complete and pruned values by trial number: min-max decimated, plus every complete
    trial that improved on all earlier ones (so the page draws the exact best-so-far line)."""
    points = [p for p in storage.trial_points(study_name=study.name) if p.value is not None]
    series = {}
    for state in ("complete", "pruned"):
        chosen = [p for p in points if p.state == state]
        kept = minmax_decimate(chosen, _value, HISTORY_BUCKETS)
        if state == "complete" and len(kept) < len(chosen):
            best = records(chosen, lambda p: study.sign * _value(p))
            kept = sorted({p.number: p for p in kept + best}.values(), key=lambda p: p.number)
        series[state] = {
            "number": [p.number for p in kept],
            "value": [p.value for p in kept],
            "total": len(chosen),
        }
    return views.json_response(
        {"direction": study.direction, "metric": study.metric, "series": series}
    )


@router.get("/studies/{name}/trials")
def trials(
    study: StudyDep,
    storage: StorageDep,
    _: ViewerDep,
    state: Annotated[list[TrialState] | None, Query()] = None,
    order: TableOrder = "number",
    desc: bool = False,
    page: Page = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 25,
    param: ParamOrder = None,
) -> JSONResponse:
    view = ParamView.of(study.space)
    rows, total = storage.table_trials(
        study_name=study.name,
        states=state or (),
        order=order,
        descending=desc,
        offset=(page - 1) * size,
        limit=size,
        param=_known_param(view, param),
    )
    return views.json_response(
        {
            "rows": [views.trial_row(t, view) for t in rows],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // size)),
            "labels": view.labels,
            "orders": list(TABLE_ORDERS),
        }
    )


@router.get("/studies/{name}/trials.csv")
def trials_csv(
    study: StudyDep,
    storage: StorageDep,
    _: ViewerDep,
    state: Annotated[list[TrialState] | None, Query()] = None,
    order: TableOrder = "number",
    desc: bool = False,
    param: ParamOrder = None,
) -> Response:
    """Every trial the table's filter matches, in its order, as CSV (up to CSV_LIMIT rows)."""
    view = ParamView.of(study.space)
    rows, _total = storage.table_trials(
        study_name=study.name,
        states=state or (),
        order=order,
        descending=desc,
        limit=CSV_LIMIT,
        param=_known_param(view, param),
    )
    body = views.trials_csv([views.trial_row(t, view) for t in rows], view.labels)
    filename = f"{study.name}-trials.csv"
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _known_param(view: ParamView, param: str | None) -> str | None:
    if param is not None and param not in view.labels:
        raise HTTPException(422, f"param must be one of {', '.join(view.labels)}, not {param!r}")
    return param


@router.get("/studies/{name}/changes")
def changes(
    study: StudyDep,
    storage: StorageDep,
    _: ViewerDep,
    seq: Stamp = 0,
    epoch: Stamp = 0,
) -> JSONResponse:
    """What changed since the page's stamps: `?seq=` (trials) and `?epoch=` (epochs).

    Stamps follow commit order, so reading the study's stamp first and then the trials
    stamped after `seq` never skips a change; one seen twice is merged by the page."""
    stamp = storage.study_stamp(study_name=study.name)
    changed = storage.trials_changed_after(
        study_name=study.name, seq=seq, limit=CHANGED_TRIALS_LIMIT
    )
    epochs = storage.epochs_after(study_name=study.name, after_id=epoch, limit=EPOCHS_LIMIT)
    return views.json_response(
        {
            "seq": stamp.change_seq,
            "epoch": epochs[-1].id if len(epochs) == EPOCHS_LIMIT else stamp.last_intermediate_id,
            "reset": len(changed) == CHANGED_TRIALS_LIMIT,
            "study": views.study_summary(
                study, views.last_activity(storage, study, stamp.last_intermediate_id)
            ),
            "trials": [views.change_row(c) for c in changed],
            "epochs": [views.epoch_row(e) for e in epochs],
        }
    )


@router.get("/studies/{name}/curves")
def curves(
    study: StudyDep,
    storage: StorageDep,
    _: ViewerDep,
    best: Annotated[int, Query(ge=0, le=200)] = 10,
    recent: Annotated[int, Query(ge=0, le=200)] = 20,
) -> JSONResponse:
    """Learning curves of the running trials, the best complete ones and the latest."""
    stamp = storage.study_stamp(study_name=study.name)
    numbers = storage.curve_trials(study_name=study.name, best=best, recent=recent)
    epochs = storage.epochs_after(study_name=study.name, numbers=numbers)
    return views.json_response(
        {
            "metric": study.metric,
            "epoch": stamp.last_intermediate_id,
            "curves": views.curves(epochs),
        }
    )


@router.get("/studies/{name}/timeline")
def timeline(study: StudyDep, storage: StorageDep, _: ViewerDep) -> JSONResponse:
    spans = storage.attempt_spans(study_name=study.name, limit=TIMELINE_LIMIT)
    hosts = {worker.id: worker.host for worker in storage.list_workers()}
    return views.json_response({"limit": TIMELINE_LIMIT, "spans": views.timeline(spans, hosts)})


@router.get("/studies/{name}/workers")
def workers(study: StudyDep, storage: StorageDep, _: ViewerDep) -> JSONResponse:
    # This study's workers only: those that ran one of its trials (exited ones say so).
    mine = storage.study_worker_ids(study_name=study.name)
    records = [w for w in storage.list_workers() if w.id in mine]
    current = [w.current_trial_id for w in records if w.current_trial_id is not None]
    numbers = storage.trial_numbers(study_name=study.name, trial_ids=current)
    return views.json_response({"workers": [views.worker_row(w, numbers) for w in records]})


@router.get("/studies/{name}/trials/{number}/state")
def trial_state(
    study: StudyDep, number: TrialNumber, storage: StorageDep, _: ViewerDep
) -> JSONResponse:
    """What the trial page watches: its state and how many epochs it has."""
    trial = storage.get_trial(study_name=study.name, number=number)
    return views.json_response(
        {"state": trial.state, "epochs": len(trial.intermediate), "attempt": trial.attempt}
    )


def _value(point: TrialPoint) -> float:
    return point.value if point.value is not None else 0.0


@router.get("/trials/{trial_id}/artifact")
def trial_artifact(
    trial_id: TrialId, storage: StorageDep, store: ArtifactsDep, _: ViewerDep
) -> Response:
    return artifact_file(storage, store, trial_id)

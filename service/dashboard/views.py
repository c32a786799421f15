"""Records to the JSON the dashboard's scripts draw (columns rather than rows where long)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from parzen.service.dashboard.params import ParamView
from parzen.service.storage import Storage, StudyRecord, TrialRecord, WorkerRecord
from parzen.service.storage.dashboard import AttemptSpan, EpochPoint, TrialChange
from parzen.service.storage.records import FINISHED_STATES, TRIAL_STATES


def json_response(content: Any) -> JSONResponse:
    """No pydantic round trip: plot data can be long, and it is plain already."""
    return JSONResponse(content, headers={"Cache-Control": "no-store"})


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def finished_count(study: StudyRecord) -> int:
    return sum(study.counts.get(state, 0) for state in FINISHED_STATES)


def last_activity(storage: Storage, study: StudyRecord, last_intermediate_id: int = 0) -> datetime:
    """The last change to one study's trials, its last epoch included (its creation when
    nothing happened yet)."""
    moments: list[datetime | None] = [
        study.created_at,
        *storage.last_activity(study_names=[study.name]).values(),
    ]
    if last_intermediate_id:
        moments.append(storage.epoch_moment(intermediate_id=last_intermediate_id))
    return max(m for m in moments if m is not None)


def study_summaries(storage: Storage, studies: list[StudyRecord]) -> list[dict[str, Any]]:
    """Summaries of many studies; last activity from their trials (epochs are not scanned)."""
    moments = storage.last_activity(study_names=[s.name for s in studies])
    return [study_summary(s, moments.get(s.name, s.created_at)) for s in studies]


def study_max_epochs(study: StudyRecord) -> int | None:
    """Where a trial's training ends: the halving pruner's `max_epochs`, else the objective's
    when the study's workers train a built-in model; unknown for plain ask/tell studies."""
    top = study.pruner.get("max_epochs")
    if top is None and study.objective.get("builder"):
        top = study.objective.get("max_epochs")
    return None if top is None else int(top)


def epoch_summary(storage: Storage, study: StudyRecord) -> dict[str, Any]:
    """Epochs spent and saved, and the epoch budget's progress (`budget.max_epochs_total`)."""
    account = storage.epoch_account(study_name=study.name, max_epochs=study_max_epochs(study))
    budget = study.max_epochs_total
    trained_in_full = account.spent + (account.saved or 0)
    return {
        "spent": account.spent,
        "saved": account.saved,
        "max_epochs": account.max_epochs,
        "saved_share": account.saved / trained_in_full
        if account.saved is not None and trained_in_full
        else None,
        "budget": budget,
        "progress": min(1.0, account.spent / budget) if budget else None,
    }


def study_summary(
    study: StudyRecord, activity: datetime | None = None, epochs: dict[str, Any] | None = None
) -> dict[str, Any]:
    finished = finished_count(study)
    return {
        "epochs": epochs,
        "name": study.name,
        "state": study.state,
        "direction": study.direction,
        "metric": study.metric,
        "algorithm": study.algorithm,
        "counts": {state: study.counts.get(state, 0) for state in TRIAL_STATES},
        "best_value": study.best_value,
        "max_trials": study.max_trials,
        "finished": finished,
        "progress": min(1.0, finished / study.max_trials) if study.max_trials else 0.0,
        "created_at": iso(study.created_at),
        "updated_at": iso(study.updated_at),
        "last_activity": iso(activity or study.created_at),
    }


def flat_params(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested choices as dotted names: {"layer": {"kind": "conv"}} -> {"layer.kind": "conv"}."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def best_params(trial: TrialRecord | None) -> dict[str, Any] | None:
    """The best trial's parameters for the study header: flat for reading, and as YAML and
    JSON documents (nested, as a training script takes them) for the copy buttons."""
    if trial is None:
        return None
    import json

    import yaml

    return {
        "flat": flat_params(trial.params),
        "yaml": yaml.safe_dump(trial.params, sort_keys=False),
        "json": json.dumps(trial.params, indent=2),
    }


def trial_row(trial: TrialRecord, view: ParamView) -> dict[str, Any]:
    duration = None
    if trial.started_at is not None and trial.finished_at is not None:
        duration = (trial.finished_at - trial.started_at).total_seconds()
    return {
        "number": trial.number,
        "state": trial.state,
        "pruned_reason": trial.pruned_reason,
        "value": trial.value,
        "last_step": trial.last_step,
        "attempt": trial.attempt,
        "worker_id": trial.worker_id,
        "started_at": iso(trial.started_at),
        "finished_at": iso(trial.finished_at),
        "duration": duration,
        "params": view.display(trial.vals),
    }


TABLE_CSV_COLUMNS = ("number", "state", "value", "last_step", "attempt", "worker_id")
TABLE_CSV_TIMES = ("started_at", "finished_at", "duration")


def trials_csv(rows: list[dict[str, Any]], labels: list[str]) -> str:
    """The trial table as CSV: full values (no rounding), a column per parameter."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*TABLE_CSV_COLUMNS, *TABLE_CSV_TIMES, *labels])
    for row in rows:
        cells = [row[c] for c in (*TABLE_CSV_COLUMNS, *TABLE_CSV_TIMES)]
        cells += [row["params"].get(label) for label in labels]
        writer.writerow(["" if c is None else c for c in cells])
    return out.getvalue()


def change_row(change: TrialChange) -> dict[str, Any]:
    return {
        "number": change.number,
        "state": change.state,
        "value": change.value,
        "last_step": change.last_step,
    }


def epoch_row(epoch: EpochPoint) -> list[Any]:
    return [epoch.number, epoch.state, epoch.step, epoch.value]


def median_by_step(epochs: list[EpochPoint], number: int) -> dict[str, list[Any]]:
    """Per epoch, the median value of the other finished trials (what a median pruner
    compares a trial with)."""
    import statistics

    by_step: dict[int, list[float]] = {}
    for epoch in epochs:
        finished = epoch.state in ("complete", "pruned")
        if epoch.number != number and finished and epoch.value is not None:
            by_step.setdefault(epoch.step, []).append(epoch.value)
    steps = sorted(by_step)
    return {"steps": steps, "values": [statistics.median(by_step[s]) for s in steps]}


def curves(epochs: list[EpochPoint]) -> list[dict[str, Any]]:
    by_trial: dict[int, dict[str, Any]] = {}
    for epoch in epochs:
        curve = by_trial.setdefault(
            epoch.number, {"number": epoch.number, "state": epoch.state, "steps": [], "values": []}
        )
        curve["steps"].append(epoch.step)
        curve["values"].append(epoch.value)
    return [by_trial[number] for number in sorted(by_trial)]


def timeline(spans: list[AttemptSpan], hosts: dict[str, str]) -> dict[str, list[Any]]:
    """`hosts` maps worker ids to host names, for rows a person recognizes."""
    return {
        "worker": [_worker_label(span.worker_id, hosts) for span in spans],
        "number": [span.number for span in spans],
        "attempt": [span.attempt for span in spans],
        "start": [iso(span.started_at) for span in spans],
        "end": [iso(span.ended_at) for span in spans],
        "outcome": [span.outcome for span in spans],
    }


def _worker_label(worker_id: str | None, hosts: dict[str, str]) -> str:
    if worker_id is None:
        return "(no worker)"
    host = hosts.get(worker_id)
    return f"{host} · {worker_id[:6]}" if host else worker_id[:12]


def worker_row(worker: WorkerRecord, trial_numbers: dict[int, int]) -> dict[str, Any]:
    """`trial_numbers` maps trial ids of this study to their numbers (others are elsewhere)."""
    current = worker.current_trial_id
    return {
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "gpu": worker.gpu,
        "state": worker.state,
        "last_seen_at": iso(worker.last_seen_at),
        "current_trial_id": current,
        "current_number": trial_numbers.get(current) if current is not None else None,
        "trials_done": worker.trials_done,
        "trials_failed": worker.trials_failed,
    }

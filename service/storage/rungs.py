"""The pruning decision a report gets; ASHA's and Hyperband's rungs in SQL.

One entry per trial and rung (unique on trial and epoch): a requeued or retried attempt that
reaches the rung again replaces its trial's entry (its own value, judged afresh against the
others) instead of adding a second one; the same attempt reporting the same rung again gets
the decision it got the first time. Decisions are serialized per study, so each is made
against every entry committed before it, whichever server process takes the report: on
PostgreSQL by a transaction-level advisory lock on (rungs, study id); on SQLite by the write
lock that the report's trial UPDATE already holds when the rung is read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from parzen.service.algorithms.pruners import HalvingPruner, Pruner
from parzen.service.db.models import IntermediateValue, RungEntry, Trial

RUNG_LOCK_CLASS = 0x50525A  # first key of the advisory lock: "PRZ"; the second is the study


@dataclass(frozen=True, slots=True)
class RungReport:
    study_id: int
    study_name: str
    trial_id: int
    number: int
    attempt: int
    step: int
    value: float
    metric: str
    maximize: bool


def pruning_reason(
    session: Session, pruner: Pruner | None, report: RungReport, *, postgres: bool
) -> str | None:
    """Why the trial should stop at this report (stored with it, shown by the API), or None."""
    if pruner is None:
        return None
    if isinstance(pruner, HalvingPruner):
        return decide_at_rung(session, pruner, report, postgres=postgres)
    others = finished_values_at(session, report.study_id, report.step)
    if not pruner.should_prune(
        step=report.step, value=report.value, others=others, maximize=report.maximize
    ):
        return None
    return pruner.reason(
        step=report.step,
        metric=report.metric,
        value=report.value,
        others=others,
        maximize=report.maximize,
    )


def finished_values_at(session: Session, study_id: int, step: int) -> list[float]:
    """The metric at `step` of the study's finished trials (their last attempt)."""
    values = session.scalars(
        select(IntermediateValue.value)
        .join(
            Trial,
            (IntermediateValue.trial_id == Trial.id) & (IntermediateValue.attempt == Trial.attempt),
        )
        .where(
            Trial.study_id == study_id,
            Trial.state.in_(("complete", "pruned")),
            IntermediateValue.step == step,
            IntermediateValue.value.is_not(None),
        )
    ).all()
    return [v for v in values if v is not None]


def epochs_trained(session: Session, study_id: int) -> int:
    """Epochs the study's trials trained, every attempt's reported steps counted."""
    count = session.scalar(
        select(func.count(IntermediateValue.id))
        .join(Trial, IntermediateValue.trial_id == Trial.id)
        .where(Trial.study_id == study_id)
    )
    return int(count or 0)


def decide_at_rung(
    session: Session, pruner: HalvingPruner, report: RungReport, *, postgres: bool
) -> str | None:
    """The pruning reason if the trial stops at the rung this step reaches, else None."""
    bracket = pruner.bracket(report.study_name, report.number)
    epoch = pruner.rung_at(report.step, bracket)
    if epoch is None:
        return None
    if postgres:
        session.execute(select(func.pg_advisory_xact_lock(RUNG_LOCK_CLASS, report.study_id)))
    stopped = session.scalar(
        select(RungEntry)
        .where(
            RungEntry.trial_id == report.trial_id,
            RungEntry.attempt == report.attempt,
            RungEntry.keep.is_(False),
        )
        .limit(1)
    )
    if stopped is not None:  # told to stop at a rung, still training: stays stopped
        told = session.scalar(select(Trial.pruned_reason).where(Trial.id == report.trial_id))
        return told or _stored_reason(pruner, stopped, report)
    entry = session.scalar(
        select(RungEntry).where(RungEntry.trial_id == report.trial_id, RungEntry.epoch == epoch)
    )
    if entry is not None and entry.attempt == report.attempt:
        return None  # kept at this rung already (this is a later epoch, or a repeated report)
    others = rung_values_by_configuration(
        session, study_id=report.study_id, bracket=bracket, epoch=epoch, trial_id=report.trial_id
    )
    judgement = pruner.judge(report.value, others, maximize=report.maximize)
    vals = session.scalar(select(Trial.vals).where(Trial.id == report.trial_id))
    written = {
        "attempt": report.attempt,
        "value": report.value,
        "keep": judgement.keep,
        "configuration": configuration_key(vals),
    }
    if entry is None:
        session.add(
            RungEntry(
                study_id=report.study_id,
                trial_id=report.trial_id,
                bracket=bracket,
                epoch=epoch,
                **written,
            )
        )
        session.flush()
    else:
        session.execute(update(RungEntry).where(RungEntry.id == entry.id).values(**written))
    if judgement.keep:
        return None
    return pruner.reason(
        epoch=epoch,
        metric=report.metric,
        value=report.value,
        judgement=judgement,
        maximize=report.maximize,
    )


def configuration_key(vals: Any) -> str:
    """What tells a trial's configuration from another's: SHA-256 of its vals' sorted JSON
    (migration 0007 gave the entries stored before it theirs the same way)."""
    return hashlib.sha256(json.dumps(vals, sort_keys=True).encode()).hexdigest()


def rung_values_by_configuration(
    session: Session, *, study_id: int, bracket: int, epoch: int, trial_id: int
) -> list[float]:
    """The rung's other entries, one value per distinct configuration (the mean of its trials).

    TPE proposes good configurations again and again; counted once per trial, their repeats
    filled the rungs and raised the cut-offs until a new good configuration was stopped
    every time (the convnet replay, README "Pruning"). Mean, not max: in real training a
    repeat is another noisy run of the same configuration, and the mean is the better
    estimate of it. The reporting trial's own configuration, when it reached the rung
    before, stays in as one value: dropping it measured worse on the convnet replay.

    Each entry carries its configuration's key, written with it: reading every entry's
    trial `vals` to compare them took 180 ms at 10,000 entries (bench/rung_reads.py), under
    the lock that every rung decision of the study waits for. The means are taken here, in
    the entries' order, not by the database's avg(): SQLite and PostgreSQL sum floats
    differently, and a rung must decide alike on both.
    """
    rows = session.connection().execute(
        _RUNG,
        {"w_study_id": study_id, "w_bracket": bracket, "w_epoch": epoch, "w_trial_id": trial_id},
    )
    by_configuration: dict[str, list[float]] = {}
    for configuration, value in rows.all():
        by_configuration.setdefault(configuration, []).append(value)
    return [sum(values) / len(values) for values in by_configuration.values()]


_RUNG = (
    select(RungEntry.configuration, RungEntry.value)
    .where(
        RungEntry.study_id == bindparam("w_study_id"),
        RungEntry.bracket == bindparam("w_bracket"),
        RungEntry.epoch == bindparam("w_epoch"),
        RungEntry.trial_id != bindparam("w_trial_id"),
    )
    .order_by(RungEntry.id)
)


def _stored_reason(pruner: HalvingPruner, entry: RungEntry, report: RungReport) -> str:
    return (
        f"epoch {entry.epoch}: {report.metric} {entry.value:.4g} did not make the rung's "
        f"top 1/{pruner.reduction_factor}"
    )

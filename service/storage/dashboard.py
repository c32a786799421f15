"""Read queries of the web dashboard: plot data, the trial table, and deltas for live updates.

Every query is bounded (a page, a limit, or columns of one study's rows), so that a study of
10,000 trials stays cheap to draw; downsampling happens above, on plain records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from parzen.service.db.models import IntermediateValue, Study, Trial, TrialAttempt
from parzen.service.storage.base import StorageCore
from parzen.service.storage.lookups import study_by_name, study_id_by_name
from parzen.service.storage.reads import page_of_trials
from parzen.service.storage.records import FINISHED_STATES, TrialRecord, TrialState
from parzen.service.storage.rungs import epochs_trained

TableOrder = Literal["number", "state", "value", "last_step", "started_at", "finished_at"]
TABLE_ORDERS: tuple[TableOrder, ...] = (
    "number",
    "state",
    "value",
    "last_step",
    "started_at",
    "finished_at",
)


@dataclass(frozen=True, slots=True)
class EpochAccount:
    """Epochs a study trained (every attempt's reported epochs: what `max_epochs_total`
    counts) and, when its end is known, the epochs its finished trials did not train against
    training each of them to `max_epochs` (pruned or stopped early)."""

    spent: int
    saved: int | None
    max_epochs: int | None


@dataclass(frozen=True, slots=True)
class StudyStamp:
    """Where a study's history stands: newer stamps or ids mean something changed."""

    change_seq: int
    last_intermediate_id: int
    finished: int


@dataclass(frozen=True, slots=True)
class TrialPoint:
    number: int
    state: TrialState
    value: float | None


@dataclass(frozen=True, slots=True)
class TrialVals:
    number: int
    value: float
    vals: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TrialChange:
    number: int
    state: TrialState
    value: float | None
    last_step: int | None
    change_seq: int


@dataclass(frozen=True, slots=True)
class EpochPoint:
    id: int
    number: int
    state: TrialState
    step: int
    value: float | None


@dataclass(frozen=True, slots=True)
class AttemptSpan:
    number: int
    attempt: int
    worker_id: str | None
    started_at: datetime
    ended_at: datetime | None
    outcome: str


class DashboardStore(StorageCore):
    def study_stamp(self, *, study_name: str) -> StudyStamp:
        with self.session() as session:
            study_id, _, change_seq = _study(session, study_name)
            last_id = session.scalar(
                select(func.max(IntermediateValue.id))
                .join(Trial, Trial.id == IntermediateValue.trial_id)
                .where(Trial.study_id == study_id)
            )
            finished = session.scalar(
                select(func.count(Trial.id)).where(
                    Trial.study_id == study_id, Trial.state.in_(FINISHED_STATES)
                )
            )
            return StudyStamp(change_seq, last_id or 0, finished or 0)

    def trial_points(
        self, *, study_name: str, states: Sequence[TrialState] = ("complete", "pruned")
    ) -> list[TrialPoint]:
        """Number, state and value of every trial in `states`, by number (the history plot)."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(
                select(Trial.number, Trial.state, Trial.value)
                .where(Trial.study_id == study_id, Trial.state.in_(states))
                .order_by(Trial.number)
            ).all()
        return [TrialPoint(n, cast(TrialState, s), v) for n, s, v in rows]

    def complete_vals(self, *, study_name: str) -> list[TrialVals]:
        """The sampler's values of every complete trial (parameter plots and importance)."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(_complete_with_value(study_id, Trial.vals)).all()
        return [TrialVals(n, v, vals) for n, v, vals in rows]

    def table_trials(
        self,
        *,
        study_name: str,
        states: Sequence[TrialState] = (),
        order: TableOrder = "number",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
        param: str | None = None,
    ) -> tuple[list[TrialRecord], int]:
        """One page of the trial table, and the number of rows the filter matches; sorted
        by the sampler's value of the parameter `param` when given (inactive ones last;
        a choice sorts by option index)."""
        column: Any = getattr(Trial, order) if param is None else Trial.vals[param].as_float()
        with self.session() as session:
            return page_of_trials(
                session,
                study_name,
                states,
                column.desc() if descending else column.asc(),
                offset=offset,
                limit=limit,
            )

    def trials_changed_after(
        self, *, study_name: str, seq: int, limit: int = 500
    ) -> list[TrialChange]:
        """Trials stamped after `seq` (new ones and state changes), oldest change first."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(
                select(Trial.number, Trial.state, Trial.value, Trial.last_step, Trial.change_seq)
                .where(Trial.study_id == study_id, Trial.change_seq > seq)
                .order_by(Trial.change_seq, Trial.number)
                .limit(limit)
            ).all()
        return [TrialChange(n, cast(TrialState, s), v, st, c) for n, s, v, st, c in rows]

    def epochs_after(
        self,
        *,
        study_name: str,
        after_id: int = 0,
        numbers: Sequence[int] | None = None,
        limit: int = 20_000,
    ) -> list[EpochPoint]:
        """Intermediate values of the trials' current attempts with an id above `after_id`.

        `numbers` limits them to some trials (the curves drawn); None means every trial."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            where = [
                Trial.study_id == study_id,
                IntermediateValue.attempt == Trial.attempt,
                IntermediateValue.id > after_id,
            ]
            if numbers is not None:
                where.append(Trial.number.in_(numbers))
            rows = session.execute(
                select(
                    IntermediateValue.id,
                    Trial.number,
                    Trial.state,
                    IntermediateValue.step,
                    IntermediateValue.value,
                )
                .join(Trial, Trial.id == IntermediateValue.trial_id)
                .where(*where)
                .order_by(IntermediateValue.id)
                .limit(limit)
            ).all()
        return [EpochPoint(i, n, cast(TrialState, s), step, v) for i, n, s, step, v in rows]

    def curve_trials(self, *, study_name: str, best: int, recent: int) -> list[int]:
        """Numbers of the trials worth a learning curve: every running one, the `best`
        complete ones and the `recent` last finished ones that reported any epoch."""
        with self.session() as session:
            study_id, direction, _ = _study(session, study_name)
            reported = Trial.last_step.is_not(None)
            base = select(Trial.number).where(Trial.study_id == study_id, reported)
            ordering = Trial.value.asc() if direction == "minimize" else Trial.value.desc()
            numbers = set(session.scalars(base.where(Trial.state == "running")))
            numbers.update(
                session.scalars(
                    base.where(Trial.state == "complete").order_by(ordering).limit(best)
                )
            )
            numbers.update(
                session.scalars(
                    base.where(Trial.state.in_(FINISHED_STATES))
                    .order_by(Trial.number.desc())
                    .limit(recent)
                )
            )
        return sorted(numbers)

    def trial_numbers(self, *, study_name: str, trial_ids: Sequence[int]) -> dict[int, int]:
        """Trial id -> number, for those of `trial_ids` that belong to the study."""
        if not trial_ids:
            return {}
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(
                select(Trial.id, Trial.number).where(
                    Trial.study_id == study_id, Trial.id.in_(trial_ids)
                )
            ).all()
        return {trial_id: number for trial_id, number in rows}

    def attempt_spans(self, *, study_name: str, limit: int = 2000) -> list[AttemptSpan]:
        """The `limit` most recent attempts of a study's trials (the timeline per worker)."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(
                select(
                    Trial.number,
                    TrialAttempt.attempt,
                    TrialAttempt.worker_id,
                    TrialAttempt.started_at,
                    TrialAttempt.ended_at,
                    TrialAttempt.outcome,
                )
                .join(Trial, Trial.id == TrialAttempt.trial_id)
                .where(Trial.study_id == study_id)
                .order_by(TrialAttempt.started_at.desc(), TrialAttempt.id.desc())
                .limit(limit)
            ).all()
        return [AttemptSpan(*row) for row in reversed(rows)]

    def last_activity(self, *, study_names: Sequence[str]) -> dict[str, datetime]:
        """The last change to each study's trials: one created, started or finished. Not the
        study's `updated_at`, which every ask of a worker moves. (Epochs are left to
        `epoch_moment`: a grouped scan of every epoch would cost the studies page too much.)"""
        if not study_names:
            return {}
        with self.session() as session:
            rows = session.execute(
                select(
                    Study.name,
                    func.max(Trial.created_at),
                    func.max(Trial.started_at),
                    func.max(Trial.finished_at),
                )
                .join(Trial, Trial.study_id == Study.id)
                .where(Study.name.in_(study_names))
                .group_by(Study.name)
            ).all()
        return {name: max(m for m in moments if m is not None) for name, *moments in rows}

    def epoch_moment(self, *, intermediate_id: int) -> datetime | None:
        """When an epoch (by id, such as a stamp's last_intermediate_id) was reported."""
        with self.session() as session:
            return session.scalar(
                select(IntermediateValue.created_at).where(IntermediateValue.id == intermediate_id)
            )

    def finished_with_epochs(self, *, study_name: str) -> list[tuple[int, float, int]]:
        """Number, value and epochs trained of every complete trial with a value, by number
        (the compare page's histories by trial and by epochs)."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            rows = session.execute(_complete_with_value(study_id, Trial.last_step)).all()
        return [(n, v, steps or 0) for n, v, steps in rows if v is not None]

    def epoch_account(self, *, study_name: str, max_epochs: int | None) -> EpochAccount:
        """Two aggregates (the epochs, and the finished trials' `last_step`), no row loops."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            spent = epochs_trained(session, study_id)
            if max_epochs is None:
                return EpochAccount(spent, None, None)
            short = func.coalesce(Trial.last_step, 0)
            saved = session.scalar(
                select(func.sum(case((short < max_epochs, max_epochs - short), else_=0))).where(
                    Trial.study_id == study_id, Trial.state.in_(("complete", "pruned"))
                )
            )
            return EpochAccount(spent, int(saved or 0), max_epochs)

    def study_worker_ids(self, *, study_name: str) -> set[str]:
        """Workers that ran an attempt of this study's trials (the study's workers card)."""
        with self.session() as session:
            study_id = study_id_by_name(session, study_name)
            return set(
                session.scalars(
                    select(TrialAttempt.worker_id)
                    .join(Trial, Trial.id == TrialAttempt.trial_id)
                    .where(Trial.study_id == study_id, TrialAttempt.worker_id.is_not(None))
                    .distinct()
                )
            )


def _study(session: Session, name: str) -> tuple[int, str, int]:
    """Id, direction and change stamp of a study, or NotFoundError."""
    row = study_by_name(session, name)
    return row.id, row.direction, row.change_seq


def _complete_with_value(study_id: int, column: Any) -> Select[Any]:
    """Number, value and `column` of the study's complete trials that have a value, by number."""
    return (
        select(Trial.number, Trial.value, column)
        .where(Trial.study_id == study_id, Trial.state == "complete", Trial.value.is_not(None))
        .order_by(Trial.number)
    )

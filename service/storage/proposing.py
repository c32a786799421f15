"""How ask gets the parameters of a new trial: proposed from a snapshot, without the lock.

A proposal (TPE on a long history) can take seconds; on SQLite the study's lock is the
database's one write lock, so a proposal made under it stalls every other writer, of every
study. So ask first proposes from a snapshot (the study's change stamp and the history the
sampler has not seen yet, read without any lock), then takes the study's lock and inserts the
trial only if the stamp shows that nothing changed meanwhile; else it proposes again, and after
a few rounds under the lock, so that it always ends. Samplers are functions of the study's
seed, the history and the trial number, so a proposal kept from a snapshot whose stamp is
still current is exactly the one that would have been made under the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from parzen.service.algorithms.base import Observation
from parzen.service.algorithms.pruners.ranking import ranked_loss
from parzen.service.db.models import Trial
from parzen.service.storage.records import StudyRecord, TrialState

ASK_ROUNDS = 3  # asks proposed from a snapshot before one proposes under the study's lock
# A proposal this quick is made under the study's lock at once: holding the lock that long is
# cheaper than proposing again whenever the history moves, which under many fast workers it
# nearly always does (16 threads telling at once: 3 proposals per trial instead of one).
QUICK_PROPOSAL_SECONDS = 0.25


class Proposer(Protocol):
    """Turns a study's history into the parameters of its next trial (see service/proposals).

    Callers hold `holding(study_id)` from `seen_seq` to `propose`: the sampler of a study is
    used by one thread at a time, and fed each change once, in commit order."""

    def holding(self, study_id: int) -> AbstractContextManager[object]: ...

    def seen_seq(self, study: StudyRecord) -> int: ...

    def propose(
        self, study: StudyRecord, changes: Sequence[Observation], seen_seq: int, number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def forget(self, study_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Proposal:
    stamp: int  # the study's change stamp the proposal was made at
    number: int
    vals: dict[str, Any]
    params: dict[str, Any]


class ProposalTimes:
    """How long each study's last proposal took in this process, to choose where to make
    the next one. A study not yet timed counts as slow: after a restart, the first ask of a
    long study must not stall every writer."""

    def __init__(self) -> None:
        self._seconds: dict[int, float] = {}
        self._lock = threading.Lock()

    def quick(self, study_id: int) -> bool:
        return self._seconds.get(study_id, math.inf) < QUICK_PROPOSAL_SECONDS

    @contextmanager
    def timing(self, study_id: int) -> Iterator[None]:
        start = time.monotonic()
        yield
        with self._lock:
            self._seconds[study_id] = time.monotonic() - start


class HistoryMoved(Exception):
    """The study changed between a snapshot proposal and its lock: propose again."""


def propose_at(
    session: Session, study: StudyRecord, stamp: int, proposer: Proposer
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parameters for trial `trial_counter + 1` from the history up to `stamp` (which the
    sampler records as seen: what changes after it is read next time)."""
    with proposer.holding(study.id):
        changes = unseen_changes(session, study, proposer.seen_seq(study))
        return proposer.propose(study, changes, stamp, study.trial_counter + 1)


def propose_from_snapshot(
    sessions: Callable[[], AbstractContextManager[Session]],
    study: StudyRecord,
    stamp: int,
    proposer: Proposer,
) -> Proposal:
    """A proposal at the study's change stamp `stamp` (read without a lock); the history is
    read in a session of its own, and the sampler runs after it is closed, holding no
    transaction."""
    number = study.trial_counter + 1
    with proposer.holding(study.id):
        with sessions() as session:
            changes = unseen_changes(session, study, proposer.seen_seq(study))
        vals, params = proposer.propose(study, changes, stamp, number)
    return Proposal(stamp, number, vals, params)


_UNSEEN = select(
    Trial.number, Trial.state, Trial.vals, Trial.value, Trial.last_intermediate, Trial.last_step
).where(Trial.study_id == bindparam("w_study_id"), Trial.change_seq > bindparam("w_seen"))


def unseen_changes(session: Session, study: StudyRecord, seen: int) -> list[Observation]:
    rows = session.connection().execute(_UNSEEN, {"w_study_id": study.id, "w_seen": seen})
    return [_observation(study.sign, *row) for row in rows]


def _observation(
    sign: float,
    number: int,
    state: TrialState,
    vals: dict[str, Any],
    value: float | None,
    last_intermediate: float | None,
    last_step: int | None,
) -> Observation:
    """Losses ranked as pruners/ranking.py says: a pruned trial below every trial that got
    further, by its value at the last epoch it reported."""
    loss = None
    if state == "complete" and value is not None:
        loss = ranked_loss(sign * value, pruned_at=None)
    elif state == "pruned":
        pruned_at = last_intermediate if last_intermediate is not None else value
        if pruned_at is None:
            # A trial pruned before any report says nothing useful: leave it out.
            state = "failed"
        else:
            loss = ranked_loss(sign * pruned_at, pruned_at=last_step or 0)
    return Observation(number=number, state=state, vals=vals, loss=loss)

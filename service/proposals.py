"""Per-process samplers, kept warm between asks.

Rebuilding a study's hyperopt history from SQL on every ask would cost more than TPE itself
at a thousand trials. Each process keeps one sampler per study and, before each proposal,
feeds it only the trials whose change stamp is newer than the last one it saw (storage reads
them holding the study's `holding` lock), so several server processes can share a database.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parzen.service.algorithms import Observation, Sampler, make_sampler
from parzen.service.limits import JsonLimitError, check_json
from parzen.service.space import SearchSpace, SpaceIssue, parse_space
from parzen.service.space_limits import limit_issues
from parzen.service.storage import ConflictError, StudyRecord


class UnsafeProposal(ConflictError):
    """A sampler drew a value JSON cannot carry (inf, NaN, an integer past 2**53): nothing
    is stored and the ask answers 409, naming the parameter, instead of handing it out."""


@dataclass
class _Entry:
    created_at: datetime
    space: SearchSpace
    sampler: Sampler
    issues: list[SpaceIssue]  # the space's limit issues: a study stored before the limits
    seen: int = 0


class SamplerPool:
    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        self._study_locks: dict[int, threading.RLock] = {}

    def holding(self, study_id: int) -> threading.RLock:
        """The lock that serializes the use of one study's sampler in this process: asks
        propose from snapshots, outside the study's row lock (see storage/proposing.py).
        Re-entrant: an ask holds it throughout and takes it again to propose."""
        with self._lock:
            return self._study_locks.setdefault(study_id, threading.RLock())

    def seen_seq(self, study: StudyRecord) -> int:
        entry = self._entries.get(study.id)
        if entry is None or entry.created_at != study.created_at:
            return 0
        return entry.seen

    def propose(
        self, study: StudyRecord, changes: Sequence[Observation], seen_seq: int, number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        entry = self._entry(study)
        if entry.issues:  # never sample such a space: hyperopt loops forever on inf sigmas
            raise UnsafeProposal(_unusable(entry.issues, "the space breaks its limits"))
        entry.sampler.observe(changes)
        entry.seen = seen_seq
        try:
            vals = entry.sampler.propose(number)
            check_proposal(vals)
            params = entry.space.params_from_vals(vals)
            check_proposal(params)
        except (ArithmeticError, JsonLimitError) as exc:  # overflow, or inf/NaN/huge drawn
            raise UnsafeProposal(_unusable([], str(exc))) from exc
        return vals, params

    def forget(self, study_id: int) -> None:
        with self._lock:
            self._entries.pop(study_id, None)

    def _entry(self, study: StudyRecord) -> _Entry:
        with self._lock:
            entry = self._entries.get(study.id)
            # A study deleted and re-created may reuse its id (SQLite): then start afresh.
            if entry is None or entry.created_at != study.created_at:
                space = parse_space(study.space)
                sampler = make_sampler(
                    study.algorithm,
                    study.algorithm_settings,
                    space,
                    study.seed,
                    prunes=study.pruner.get("type", "none") != "none",
                )
                issues = limit_issues(space)
                entry = _Entry(study.created_at, space, sampler, issues)
                self._entries[study.id] = entry
            return entry


def check_proposal(values: dict[str, Any]) -> None:
    """Refuse a value JSON cannot carry before it is stored or handed to a worker."""
    check_json(values, "params")


def _unusable(issues: list[SpaceIssue], fallback: str) -> str:
    """Name the parameter: by the space's limit issues, else by the value drawn (its path)."""
    why = "; ".join(str(issue) for issue in issues) if issues else fallback
    return f"this study's space cannot be sampled ({why}); create it again with narrower ranges"

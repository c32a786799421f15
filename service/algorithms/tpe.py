"""TPE through hyperopt: the only module of the project that imports hyperopt.

The hyperopt space, its Domain and one Trials object live as long as the sampler;
`observe` updates the trial documents in place, so a proposal costs one `tpe.suggest`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import Any

from hyperopt import hp, tpe
from hyperopt.base import JOB_STATE_DONE, JOB_STATE_ERROR, JOB_STATE_RUNNING, Domain, Trials

from parzen.service.algorithms.base import (
    FINISHED_STATES,
    Observation,
    Sampler,
    check_seed,
    trial_seed,
)
from parzen.service.algorithms.random import RandomSampler
from parzen.service.algorithms.tpe_settings import TPESettings
from parzen.service.space import (
    Bounded,
    Categorical,
    Constant,
    Dimension,
    IntRange,
    SearchSpace,
    SubSpace,
)

# hyperopt logs every suggest call at INFO.
logging.getLogger("hyperopt").setLevel(logging.WARNING)

_GAMMA_CAP = 25  # hyperopt's and Optuna's largest good group

_JOB_STATES = {
    "complete": JOB_STATE_DONE,
    "pruned": JOB_STATE_DONE,
    # Pending trials get loss=inf inside tpe.suggest: a constant liar, so that parallel
    # workers are steered away from points already handed out.
    "queued": JOB_STATE_RUNNING,
    "running": JOB_STATE_RUNNING,
    "failed": JOB_STATE_ERROR,  # Trials.refresh leaves these out
}


class TPESampler(Sampler):
    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        settings: TPESettings = TPESettings(),
    ) -> None:
        self._space = space
        self._settings = settings
        self._seed = check_seed(seed)
        self._suggest_options: dict[str, Any] = {
            "gamma": settings.gamma,
            "n_EI_candidates": settings.n_ei_candidates,
            "prior_weight": settings.prior_weight,
            "n_startup_jobs": 0,  # our own startup phase counts finished trials only
            "verbose": False,
        }
        self._random = RandomSampler(space, seed=seed)
        self._domain = (
            Domain(_not_evaluated, _expression(space.root, {})) if space.dimensions else None
        )
        self._converters = tuple(
            (dim.label, _to_hyperopt(dim)) for dim in space.dimensions.values()
        )
        self._trials = Trials()
        self._docs: dict[int, dict[str, Any]] = {}
        self._observed: dict[int, Observation] = {}
        self._finished: set[int] = set()

    def observe(self, observations: Iterable[Observation]) -> None:
        if self._domain is None:
            return  # nothing to model: every proposal is {}
        new_docs: list[dict[str, Any]] = []
        changed = False
        for obs in observations:
            if self._observed.get(obs.number) == obs:
                continue
            changed = True
            self._observed[obs.number] = obs
            if obs.state in FINISHED_STATES:
                self._finished.add(obs.number)
            else:
                self._finished.discard(obs.number)
            doc = self._docs.get(obs.number)
            if doc is None:
                doc = self._docs[obs.number] = self._new_doc(obs.number)
                new_docs.append(doc)
            self._fill(doc, obs)
        # The checked insert_trial_docs may copy the docs; we keep ours to update in place.
        self._trials._insert_trial_docs(new_docs)
        if changed:
            self._trials.refresh()

    @property
    def hyperopt_state(self) -> tuple[Any, Any, dict[str, Any]]:
        """(Domain, Trials, suggest options): to time raw tpe.suggest on the same history."""
        return self._domain, self._trials, dict(self._options())

    def propose(self, number: int) -> dict[str, float | int]:
        if self._domain is None:
            return {}
        if len(self._finished) < self._settings.n_startup_trials:
            return self._random.propose(number)
        seed = trial_seed(self._seed, number)
        [doc] = tpe.suggest([number], self._domain, self._trials, seed, **self._options())
        proposed = doc["misc"]["vals"]
        return {
            label: _from_hyperopt(dim, proposed[label][0])
            for label, dim in self._space.dimensions.items()
            if proposed.get(label)
        }

    def _options(self) -> dict[str, Any]:
        # hyperopt's good group is the best ceil(gamma * sqrt(n)) of all n trials it is given,
        # pending ones included (3 of 100, 4 of 200 at gamma 0.25); ours is Optuna's
        # min(ceil(gamma * finished), 25): pass hyperopt the gamma that gives that count.
        n_below = min(math.ceil(self._settings.gamma * len(self._finished)), _GAMMA_CAP)
        n_docs = len(self._trials.trials)
        if n_below < 1 or n_docs < 1:
            return self._suggest_options
        return {**self._suggest_options, "gamma": (n_below - 0.5) / math.sqrt(n_docs)}

    def _new_doc(self, number: int) -> dict[str, Any]:
        assert self._domain is not None
        return {
            "tid": number,
            "spec": None,
            "misc": {"tid": number, "cmd": self._domain.cmd, "workdir": None},
            "exp_key": None,
            "owner": None,
            "version": 0,
            "book_time": None,
            "refresh_time": None,
        }

    def _fill(self, doc: dict[str, Any], obs: Observation) -> None:
        doc["state"] = _JOB_STATES[obs.state]
        if not self._settings.constant_liar and obs.state in ("queued", "running"):
            doc["state"] = JOB_STATE_ERROR  # left out, as failed ones are
        if obs.state in FINISHED_STATES:
            doc["result"] = {"status": "ok", "loss": _finite_or_inf(obs.loss)}
        else:
            doc["result"] = {"status": "fail" if obs.state == "failed" else "new"}
        idxs: dict[str, list[int]] = {}
        vals: dict[str, list[float | int]] = {}
        for label, to_hyperopt in self._converters:
            if label in obs.vals:
                idxs[label], vals[label] = [obs.number], [to_hyperopt(obs.vals[label])]
            else:
                idxs[label], vals[label] = [], []
        doc["misc"]["idxs"], doc["misc"]["vals"] = idxs, vals


def _expression(sub: SubSpace, nodes: dict[str, Any]) -> dict[str, Any]:
    """The hyperopt space of a (sub-)space. Constants are left out: TPE only needs the
    conditional shape. `nodes` makes a dimension shared by two branches one hyperopt node."""
    return {
        name: _node(entry, nodes)
        for name, entry in sub.params.items()
        if isinstance(entry, Dimension)
    }


def _node(dim: Dimension, nodes: dict[str, Any]) -> Any:
    if dim.label not in nodes:
        nodes[dim.label] = _new_node(dim, nodes)
    return nodes[dim.label]


def _new_node(dim: Dimension, nodes: dict[str, Any]) -> Any:
    label, dist = dim.label, dim.distribution
    if isinstance(dist, Categorical):
        options = [
            i if isinstance(option, Constant) else _expression(option, nodes)
            for i, option in enumerate(dist.options)
        ]
        if dist.probabilities is None:
            return hp.choice(label, options)
        total = sum(dist.probabilities)
        return hp.pchoice(
            label, [(p / total, o) for p, o in zip(dist.probabilities, options, strict=True)]
        )
    if isinstance(dist, IntRange):
        if dist.log:
            return hp.qloguniform(label, math.log(dist.low - 0.5), math.log(dist.high + 0.5), 1)
        # An ordinal index k in [0, size - 1] for the value low + k * step.
        return hp.quniform(label, -0.5, dist.size - 0.5, 1)
    if isinstance(dist, Bounded):
        low, high = (math.log(dist.low), math.log(dist.high)) if dist.log else (dist.low, dist.high)
        if dist.q is None:
            return (hp.loguniform if dist.log else hp.uniform)(label, low, high)
        return (hp.qloguniform if dist.log else hp.quniform)(label, low, high, dist.q)
    if dist.q is None:
        return (hp.lognormal if dist.log else hp.normal)(label, dist.mu, dist.sigma)
    return (hp.qlognormal if dist.log else hp.qnormal)(label, dist.mu, dist.sigma, dist.q)


def _to_hyperopt(dim: Dimension) -> Callable[[float], float | int]:
    dist = dim.distribution
    if isinstance(dist, Categorical):
        return int
    if isinstance(dist, IntRange) and not dist.log:
        low, step = dist.low, dist.step
        return lambda value: (value - low) / step
    return float


def _from_hyperopt(dim: Dimension, value: Any) -> float | int:
    dist = dim.distribution
    if isinstance(dist, Categorical):
        return int(value)
    if isinstance(dist, IntRange) and not dist.log:
        return dist.snap(dist.low + float(value) * dist.step)
    return dist.snap(float(value))


def _finite_or_inf(loss: float | None) -> float:
    # A diverged model's NaN (or a pruned trial without a score) ranks as the worst.
    return math.inf if loss is None or math.isnan(loss) else float(loss)


def _not_evaluated(params: object) -> None:
    raise RuntimeError("the service never evaluates objectives through hyperopt")

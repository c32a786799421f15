"""Optuna 5's TPESampler on bench/ask_latency.py's space and history: the anchor a team would
otherwise deploy, in memory and on Optuna's RDB storage.

The history is Parzen's (the same trials, converted); `bulk_load` writes it straight into
Optuna's tables with executemany, since `Study.add_trials` commits each trial on its own
(72 s for 2,000 trials on SQLite) and would be most of the benchmark's time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
)
from optuna.storages import RDBStorage
from optuna.storages._rdb import models
from optuna.trial import TrialState, create_trial
from sqlalchemy import Engine, create_engine, func, insert, select

optuna.logging.set_verbosity(optuna.logging.WARNING)

ACTIVATIONS = ["relu", "elu", "selu", "gelu"]
TOP: dict[str, BaseDistribution] = {
    "learning_rate": FloatDistribution(1e-5, 1e-1, log=True),
    "units": IntDistribution(16, 512, log=True),
    "layers": IntDistribution(1, 6),
    "activation": CategoricalDistribution(ACTIVATIONS),
    "layer": CategoricalDistribution(["conv", "dense"]),
    "dropout": FloatDistribution(0.0, 0.5),
}
CONV: dict[str, BaseDistribution] = {
    "filters": IntDistribution(8, 128),
    "kernel_size": CategoricalDistribution([3, 5, 7]),
}
DENSE: dict[str, BaseDistribution] = {"width": IntDistribution(16, 1024)}


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    """The space of bench/ask_latency.py, define-by-run; Parzen's nested params back."""
    params: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-1, log=True),
        "units": trial.suggest_int("units", 16, 512, log=True),
        "layers": trial.suggest_int("layers", 1, 6),
        "activation": trial.suggest_categorical("activation", ACTIVATIONS),
    }
    if trial.suggest_categorical("layer", ["conv", "dense"]) == "conv":
        params["layer"] = {
            "kind": "conv",
            "filters": trial.suggest_int("filters", 8, 128),
            "kernel_size": trial.suggest_categorical("kernel_size", [3, 5, 7]),
        }
    else:
        params["layer"] = {"kind": "dense", "width": trial.suggest_int("width", 16, 1024)}
    params["dropout"] = trial.suggest_float("dropout", 0.0, 0.5)
    return params


def flat(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
    """Parzen's nested params as Optuna's flat params and distributions."""
    layer = params["layer"]
    values = {key: params[key] for key in TOP if key != "layer"} | {"layer": layer["kind"]}
    branch = CONV if layer["kind"] == "conv" else DENSE
    values |= {key: layer[key] for key in branch}
    return values, TOP | branch


def in_memory_study(history: Sequence[tuple[dict[str, Any], float]], seed: int) -> optuna.Study:
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    add(study, history)
    return study


def add(study: optuna.Study, history: Sequence[tuple[dict[str, Any], float]]) -> None:
    trials = []
    for params, value in history:
        values, distributions = flat(params)
        trials.append(create_trial(params=values, distributions=distributions, value=value))
    study.add_trials(trials)


def rdb_study(url: str, name: str) -> None:
    optuna.create_study(storage=RDBStorage(url), study_name=name)


def bulk_load(url: str, name: str, history: Sequence[tuple[dict[str, Any], float]]) -> None:
    """Append finished trials to an RDB study in three bulk statements."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            study_id = conn.execute(
                select(models.StudyModel.study_id).where(models.StudyModel.study_name == name)
            ).scalar_one()
            number = conn.execute(
                select(func.count()).where(models.TrialModel.study_id == study_id)
            ).scalar_one()
            now = datetime.now(UTC).replace(tzinfo=None)
            trial_table = models.TrialModel.__table__
            rows = [
                {
                    "number": number + k,
                    "study_id": study_id,
                    "state": TrialState.COMPLETE,
                    "datetime_start": now,
                    "datetime_complete": now,
                }
                for k in range(len(history))
            ]
            if not rows:
                return
            ids = conn.execute(
                insert(trial_table).returning(trial_table.c.trial_id, sort_by_parameter_order=True),
                rows,
            ).scalars()
            params, values = [], []
            for trial_id, (nested, value) in zip(ids, history, strict=True):
                flat_values, distributions = flat(nested)
                params += [
                    {
                        "trial_id": trial_id,
                        "param_name": key,
                        "param_value": dist.to_internal_repr(flat_values[key]),
                        "distribution_json": distribution_to_json(dist),
                    }
                    for key, dist in distributions.items()
                ]
                values.append(
                    {
                        "trial_id": trial_id,
                        "objective": 0,
                        "value": value,
                        "value_type": models.TrialValueModel.TrialValueType.FINITE,
                    }
                )
            conn.execute(insert(models.TrialParamModel.__table__), params)
            conn.execute(insert(models.TrialValueModel.__table__), values)
        analyze(engine, ("trials", "trial_params", "trial_values"))
    finally:
        engine.dispose()


def analyze(engine: Engine, tables: Sequence[str]) -> None:
    """On PostgreSQL, what autovacuum's ANALYZE does within its naptime of a bulk import:
    fresh planner statistics, which also make every connection re-plan the statements it
    prepared while the tables were small (psycopg prepares a statement on its fifth use; a
    plan made at 100 trials, a sequential scan, stays until the statistics change)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f"ANALYZE {table}")


def timed_ask(study: optuna.Study, objective: Any) -> float:
    """Seconds of one ask with its suggestions (where TPE runs); the trial is then told."""
    start = time.perf_counter()
    trial = study.ask()
    params = suggest(trial)
    seconds = time.perf_counter() - start
    study.tell(trial, objective(params))
    return seconds


def load_rdb(url: str, name: str, seed: int, *, connections: int | None = None) -> optuna.Study:
    """The study through a storage of its own; `connections` caps its pool (a load test's
    64 clients must fit PostgreSQL's max_connections)."""
    kwargs = {} if connections is None else {"pool_size": connections, "max_overflow": 1}
    storage = RDBStorage(url, engine_kwargs=kwargs)
    return optuna.load_study(
        study_name=name, storage=storage, sampler=optuna.samplers.TPESampler(seed=seed)
    )

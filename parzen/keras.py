"""Parzen for Keras and KerasTuner users.

- `HyperParameters`: Parzen's `hp` object, KerasTuner's API for builders (no keras_tuner
  needed); `register_hypermodel("name")` on a `build(hp)` function or a HyperModel;
  `hypermodel_space(build)`: the Parzen search space that `build` declares.
- `ParzenOracle`: a `keras_tuner.Oracle` whose trials come from a Parzen study (every
  machine running the tuner is a worker of the study). Needs `pip install parzen[kerastuner]`.
- `ParzenCallback`: the Keras callback of a `start_trial` block (`trial.keras_callback()`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from parzen.worker.hypermodels import as_builder, hypermodel_space, register_hypermodel
from parzen.worker.hypermodels_hp import HyperparameterError, HyperParameters

if TYPE_CHECKING:
    from parzen.worker.callbacks import ReportingCallback as ParzenCallback
    from parzen.worker.hypermodels_oracle import ParzenOracle

__all__ = [
    "HyperParameters",
    "HyperparameterError",
    "ParzenCallback",
    "ParzenOracle",
    "as_builder",
    "hypermodel_space",
    "register_hypermodel",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: keras_tuner (the oracle) and keras (the callback) are optional.
    if name == "ParzenOracle":
        from parzen.worker.hypermodels_oracle import ParzenOracle

        return ParzenOracle
    if name == "ParzenCallback":
        from parzen.worker.callbacks import ReportingCallback

        return ReportingCallback
    raise AttributeError(f"module 'parzen.keras' has no attribute {name!r}")

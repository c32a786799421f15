"""A KerasTuner script whose only change is the oracle: run as a process of its own by the
oracle tests (`python -m tests.worker.kt_search URL TOKEN STUDY DIR [--hang-at-epoch-1 FILE]`).
With --hang-at-epoch-1 it writes FILE after its first epoch and then hangs, to be killed."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner

from parzen.worker.hypermodels_oracle import ParzenOracle
from tests.worker.kt_models import build_conditional, digits


class Hang(keras.callbacks.Callback):  # type: ignore[misc]
    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.marker.write_text("training")
        time.sleep(600)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "token", "study", "directory"):
        parser.add_argument(name)
    parser.add_argument("--hang-at-epoch-1", type=Path)
    args = parser.parse_args()
    oracle = ParzenOracle(
        study=args.study,
        objective="val_accuracy",
        max_trials=3,
        url=args.url,
        token=args.token,
        max_parallel=2,
        lease_seconds=4,  # short, so that a killed process's trial comes back soon
        poll_seconds=0.2,
    )
    tuner = keras_tuner.Tuner(
        hypermodel=build_conditional, oracle=oracle, directory=args.directory, overwrite=True
    )
    callbacks = [oracle.callback()] + ([Hang(args.hang_at_epoch_1)] if args.hang_at_epoch_1 else [])
    x, y, xv, yv = digits(120)
    tuner.search(
        x, y, validation_data=(xv, yv), epochs=2, batch_size=32, verbose=0, callbacks=callbacks
    )
    best = tuner.get_best_hyperparameters()[0]
    print("best", best.values)


if __name__ == "__main__":
    main()

"""Parzen's public SDK: `from parzen import Client`.

    from parzen import Client

    with Client("http://127.0.0.1:8000", token) as client:
        with client.start_trial("cnn") as trial:
            model = build(trial.params)
            model.fit(x, y, validation_data=(xv, yv), callbacks=[trial.keras_callback()])

`parzen.keras` holds the KerasTuner side: the `hp` object (`HyperParameters`),
`register_hypermodel`, `ParzenOracle` (needs keras-tuner) and the trial callback.
"""

from __future__ import annotations

from parzen.worker.client import Ask, ParzenClient, ParzenError, ServerUnavailable, Trial
from parzen.worker.trial_session import NoTrialAvailable, TrialPruned, TrialSession

Client = ParzenClient
"""The Parzen service from Python; see `parzen.worker.client.ParzenClient`."""

__all__ = [
    "Ask",
    "Client",
    "NoTrialAvailable",
    "ParzenError",
    "ServerUnavailable",
    "Trial",
    "TrialPruned",
    "TrialSession",
]

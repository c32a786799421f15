"""The trial store: ask (asking.py), reports (reporting.py) and results (results.py), attempts
and lease expiry (attempts.py), reads (reads.py), each a part of one class over one storage
core."""

from __future__ import annotations

from parzen.service.storage.asking import AskStore
from parzen.service.storage.attempts import AttemptStore
from parzen.service.storage.reads import TrialOrder, TrialReads
from parzen.service.storage.results import ResultStore

__all__ = ["TrialOrder", "TrialStore"]


class TrialStore(AskStore, ResultStore, AttemptStore, TrialReads):
    """Every trial operation; each concern lives in the module its part names."""

"""What every artifact store does: trials' best-epoch checkpoints under a key per trial, so
that any replica serves them and any node can evaluate any trial.

A key is `<study>/trial-<number>.keras`, relative to the store's root (a directory or an
`s3://bucket/prefix`), and it is what the trial row records: moving a deployment from one
store to the other is a copy of the files. Study names are already restricted to
[A-Za-z0-9_.-], so a study's keys are exactly those under `<study>/`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from starlette.responses import Response

MAX_BYTES = 4 * 2**30
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ArtifactTooLarge(ValueError):
    """The upload is over the store's limit (413); nothing was stored."""


class ArtifactMissing(LookupError):
    """No object under that key (404)."""


class ArtifactStoreUnavailable(RuntimeError):
    """The object store did not answer or refused us (503); nothing was stored."""


class ArtifactStore(ABC):
    def __init__(self, *, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def key(self, study: str, number: int) -> str:
        return f"{self.study_prefix(study)}trial-{number}.keras"

    def study_prefix(self, study: str) -> str:
        return f"{_SAFE.sub('_', study)}/"

    def too_large(self) -> ArtifactTooLarge:
        return ArtifactTooLarge(f"artifacts are limited to {self.max_bytes} bytes")

    @abstractmethod
    def describe(self) -> str:
        """Where the artifacts live, for the start-up log line."""

    @abstractmethod
    async def save(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the stream under `key` all at once or not at all; the size stored.

        Raises ArtifactTooLarge as soon as the stream passes `max_bytes`.
        """

    @abstractmethod
    def download(self, key: str, filename: str) -> Response:
        """The object as a streamed response, or ArtifactMissing."""

    @abstractmethod
    def delete_study(self, study: str) -> int:
        """Delete every artifact of a study; how many were deleted."""

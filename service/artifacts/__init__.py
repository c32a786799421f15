"""The artifact store: a local directory (the embedded default) or an S3-compatible bucket."""

from __future__ import annotations

import logging

from parzen.service.artifacts.base import (
    MAX_BYTES,
    ArtifactMissing,
    ArtifactStore,
    ArtifactStoreUnavailable,
    ArtifactTooLarge,
)
from parzen.service.artifacts.local import LocalArtifactStore
from parzen.service.config import Settings

__all__ = [
    "MAX_BYTES",
    "ArtifactMissing",
    "ArtifactStore",
    "ArtifactStoreUnavailable",
    "ArtifactTooLarge",
    "LocalArtifactStore",
    "open_store",
]


def open_store(settings: Settings) -> ArtifactStore:
    """PARZEN_ARTIFACT_URL (s3://...) when set, else the directory PARZEN_ARTIFACT_DIR."""
    if settings.artifact_url:
        from parzen.service.artifacts.s3 import S3ArtifactStore  # boto3 only where it is used

        store: ArtifactStore = S3ArtifactStore(
            settings.artifact_url, endpoint_url=settings.s3_endpoint_url
        )
    else:
        store = LocalArtifactStore(settings.artifact_dir)
    logging.getLogger("parzen.service").info("artifacts in %s", store.describe())
    return store

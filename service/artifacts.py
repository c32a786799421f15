"""The artifact store: trials' best-epoch checkpoints in a directory, so that any node can
evaluate any trial. Files are written under a temporary name and renamed into place, so a
reader never sees half a file."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

MAX_BYTES = 4 * 2**30
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class ArtifactTooLarge(ValueError):
    pass


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def relative_path(self, study: str, number: int) -> str:
        return f"{_SAFE.sub('_', study)}/trial-{number}.keras"

    def path(self, relative: str) -> Path:
        return self.root / relative

    async def save(self, relative: str, chunks: AsyncIterator[bytes]) -> int:
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise ArtifactTooLarge(f"artifacts are limited to {MAX_BYTES} bytes")
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

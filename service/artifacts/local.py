"""The embedded default: artifacts in a directory (PARZEN_ARTIFACT_DIR) on the server's disk.

Files are written under a temporary name in the target's directory and renamed into place
(`os.replace` is atomic on one filesystem), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.responses import FileResponse, Response

from parzen.service.artifacts.base import MAX_BYTES, ArtifactMissing, ArtifactStore


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path, *, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_bytes=max_bytes)
        self.root = root

    def describe(self) -> str:
        return f"directory {self.root.resolve()}"

    def path(self, key: str) -> Path:
        return self.root / key

    async def save(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise self.too_large()
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def download(self, key: str, filename: str) -> Response:
        path = self.path(key)
        if not path.is_file():
            raise ArtifactMissing(key)
        return FileResponse(path, filename=filename)  # sendfile, ranges, streamed in chunks

    def delete_study(self, study: str) -> int:
        folder = self.path(self.study_prefix(study))
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count

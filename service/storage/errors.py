from __future__ import annotations


class StorageError(Exception):
    """Base of the errors the storage layer raises; routes turn them into 4xx answers."""


class NotFoundError(StorageError):
    pass


class ConflictError(StorageError):
    pass


class ForbiddenError(StorageError):
    """The caller is not the holder of what it writes to (a lease, a worker identity)."""


class StorageUnavailable(StorageError):
    """The database cannot be reached or a lock wait took too long: nothing was applied, and
    the same request may be retried (the API answers 503 with Retry-After)."""

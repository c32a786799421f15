from __future__ import annotations


class StorageError(Exception):
    """Base of the errors the storage layer raises; routes turn them into 4xx answers."""


class NotFoundError(StorageError):
    pass


class ConflictError(StorageError):
    pass

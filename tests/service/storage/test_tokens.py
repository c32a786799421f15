"""The token cache of a server process: a cached token skips the database, a revocation is
seen at once by the process that made it and within the cache's seconds by every other one."""

from __future__ import annotations

from parzen.service.db.base import utcnow
from parzen.service.storage import Storage, TokenRecord
from parzen.service.storage.tokens import TokenCache
from tests.service.statements import statements


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _replica(storage: Storage, clock: Clock, seconds: float = 5.0) -> Storage:
    """A second server process on the same database, its cache on the test's clock."""
    replica = Storage(storage.engine)
    replica.token_cache = TokenCache(seconds=seconds, clock=clock)
    return replica


def test_a_cached_token_is_authenticated_without_a_statement(storage: Storage) -> None:
    token, record = storage.create_token(role="worker", name="w")
    storage.cache_tokens(seconds=5)
    assert storage.authenticate(token=token) == record
    with statements(storage.engine) as sent:
        assert storage.authenticate(token=token) == record
    assert sent == []


def test_wrong_tokens_are_never_cached(storage: Storage) -> None:
    """A wrong token is looked up every time (the failure limiter counts each one)."""
    storage.cache_tokens(seconds=5)
    for _ in range(2):
        with statements(storage.engine) as sent:
            assert storage.authenticate(token="pz_wrong") is None
        assert len(sent) == 1


def test_revocation_is_immediate_here_and_within_the_ttl_on_other_replicas(
    storage: Storage,
) -> None:
    clock = Clock()
    here, there = _replica(storage, clock), _replica(storage, clock)
    token, record = storage.create_token(role="worker", name="w")
    assert here.authenticate(token=token) == there.authenticate(token=token) == record
    here.revoke_token(token_id=record.id)
    assert here.authenticate(token=token) is None
    clock.now += 4.9
    assert there.authenticate(token=token) == record  # trusted for the cache's seconds
    clock.now += 0.2
    assert there.authenticate(token=token) is None


def test_a_lookup_that_raced_a_revocation_is_not_cached() -> None:
    """A read begun before this process revoked the token must not bring it back."""
    cache = TokenCache(seconds=5, clock=Clock())
    generation = cache.generation()
    cache.forget_all()  # the revocation commits while the lookup is in flight
    record = TokenRecord(id=1, name="w", role="worker", created_at=utcnow(), revoked_at=None)
    cache.put("hash", record, generation=generation)
    assert cache.get("hash") is None
    cache.put("hash", record, generation=cache.generation())
    assert cache.get("hash") == record


def test_a_renewed_configured_token_is_forgotten_with_its_old_role(storage: Storage) -> None:
    token = "pz_configured_token_0123456789"
    storage.cache_tokens(seconds=5)
    storage.ensure_token(role="viewer", name="configured", token=token)
    assert (viewer := storage.authenticate(token=token)) is not None and viewer.role == "viewer"
    storage.ensure_token(role="admin", name="configured", token=token)
    assert (admin := storage.authenticate(token=token)) is not None and admin.role == "admin"


def test_cache_tokens_zero_looks_every_token_up(storage: Storage) -> None:
    token, _ = storage.create_token(role="worker", name="w")
    storage.cache_tokens(seconds=0)
    storage.authenticate(token=token)
    with statements(storage.engine) as sent:
        storage.authenticate(token=token)
    assert len(sent) == 1

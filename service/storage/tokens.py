"""Bearer tokens with roles. Only a SHA-256 of each token is stored: tokens are 256-bit
random strings, so a slow password hash would add latency to every request and no safety.

A server process keeps the tokens it authenticated for a few seconds (`cache_tokens`,
PARZEN_TOKEN_CACHE_SECONDS), keyed by the hash: a worker's report then costs no token query.
A revocation takes effect at once in the process that made it, and within that many seconds
in every other replica.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import select, update

from parzen.service.db.base import utcnow
from parzen.service.db.models import Token
from parzen.service.storage.base import StorageCore
from parzen.service.storage.convert import token_record
from parzen.service.storage.errors import ConflictError
from parzen.service.storage.lookups import no_token
from parzen.service.storage.records import Role, TokenRecord

TOKEN_PREFIX = "pz_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache:
    """Authenticated tokens by hash, each kept `seconds` after its lookup; thread-safe.

    Only tokens found valid are kept (a wrong token is counted by the failure limiter and
    looked up every time). A lookup that began before a change (`forget_all`) is not kept, so
    that a revocation in this process can never be undone by a read that raced it.
    """

    def __init__(
        self,
        *,
        seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds, self.max_entries, self._clock = seconds, max_entries, clock
        self._entries: OrderedDict[str, tuple[float, TokenRecord]] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> TokenRecord | None:
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[token_hash]
                return None
            return entry[1]

    def generation(self) -> int:
        return self._generation

    def put(self, token_hash: str, record: TokenRecord, *, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._entries[token_hash] = (self._clock() + self.seconds, record)
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


class TokenStore(StorageCore):
    token_cache: TokenCache | None = None

    def cache_tokens(self, *, seconds: float) -> None:
        """Keep authenticated tokens for `seconds` in this process (0: look each one up)."""
        self.token_cache = TokenCache(seconds=seconds) if seconds > 0 else None

    def create_token(
        self, *, role: Role, name: str, token: str | None = None
    ) -> tuple[str, TokenRecord]:
        """Store a token (a new random one unless given) and return it with its record."""
        token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.session() as session:
            row = Token(name=name, role=role, token_hash=hash_token(token))
            session.add(row)
            session.flush()
            return token, token_record(row)

    def ensure_token(self, *, role: Role, name: str, token: str) -> TokenRecord:
        """Register a token given by configuration (PARZEN_ADMIN_TOKEN); idempotent, also
        when several replicas start at once: the losers of the insert take the winner's row."""
        existing = self._renew_token(role=role, token=token)
        if existing is not None:
            return existing
        try:
            return self.create_token(role=role, name=name, token=token)[1]
        except ConflictError:
            renewed = self._renew_token(role=role, token=token)
            if renewed is None:  # inserted and deleted again meanwhile: nothing to agree on
                raise
            return renewed

    def _renew_token(self, *, role: Role, token: str) -> TokenRecord | None:
        with self.session() as session:
            row = session.scalar(select(Token).where(Token.token_hash == hash_token(token)))
            if row is None:
                return None
            row.role, row.revoked_at = role, None
            record = token_record(row)
        self._tokens_changed()
        return record

    def cached_token(self, *, token: str) -> TokenRecord | None:
        """The token's record if this process's cache holds it (no database: a caller on
        the event loop may ask), else None."""
        cache = self.token_cache
        return cache.get(hash_token(token)) if cache is not None else None

    def authenticate(self, *, token: str) -> TokenRecord | None:
        token_hash, cache = hash_token(token), self.token_cache
        if cache is not None and (cached := cache.get(token_hash)) is not None:
            return cached
        generation = cache.generation() if cache is not None else 0
        with self.session() as session:
            row = session.scalar(
                select(Token).where(Token.token_hash == token_hash, Token.revoked_at.is_(None))
            )
            record = token_record(row) if row is not None else None
        if cache is not None and record is not None:
            cache.put(token_hash, record, generation=generation)
        return record

    def _tokens_changed(self) -> None:
        """After a commit that changed a token: this process forgets every cached one."""
        if self.token_cache is not None:
            self.token_cache.forget_all()

    def list_tokens(self) -> list[TokenRecord]:
        with self.session() as session:
            return [token_record(r) for r in session.scalars(select(Token).order_by(Token.id))]

    def revoke_token(self, *, token_id: int) -> None:
        with self.session() as session:
            done = session.execute(
                update(Token)
                .where(Token.id == token_id)
                .values(revoked_at=utcnow())
                .returning(Token.id)
            ).scalar_one_or_none()
            if done is None:
                raise no_token(token_id)
        self._tokens_changed()

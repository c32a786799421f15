"""Bearer tokens with roles. Only a SHA-256 of each token is stored: tokens are 256-bit
random strings, so a slow password hash would add latency to every request and no safety."""

from __future__ import annotations

import hashlib
import secrets

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


class TokenStore(StorageCore):
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
            return token_record(row)

    def authenticate(self, *, token: str) -> TokenRecord | None:
        with self.session() as session:
            row = session.scalar(
                select(Token).where(
                    Token.token_hash == hash_token(token), Token.revoked_at.is_(None)
                )
            )
            return token_record(row) if row is not None else None

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

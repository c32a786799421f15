from __future__ import annotations

from fastapi import APIRouter, status

from parzen.service.api.params import TokenId
from parzen.service.api.presenters import token_public
from parzen.service.api.responses import LOOKUP
from parzen.service.deps import AdminDep, StorageDep
from parzen.service.schemas import TokenCreate, TokenCreated, TokensPublic

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, storage: StorageDep, _: AdminDep) -> TokenCreated:
    token, record = storage.create_token(role=body.role, name=body.name)
    return TokenCreated(token=token, **token_public(record).model_dump())


@router.get("")
def list_tokens(storage: StorageDep, _: AdminDep) -> TokensPublic:
    tokens = [token_public(t) for t in storage.list_tokens()]
    return TokensPublic(data=tokens, count=len(tokens))


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=LOOKUP)
def revoke_token(token_id: TokenId, storage: StorageDep, _: AdminDep) -> None:
    storage.revoke_token(token_id=token_id)

"""Apply Alembic migrations from code: `parzen server` and the tests call this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_config(url: str) -> Config:
    if not ALEMBIC_INI.exists():
        raise RuntimeError(
            f"{ALEMBIC_INI} not found: install Parzen from its source tree (pip install -e .)."
        )
    config = Config(str(ALEMBIC_INI))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)

"""Apply Alembic migrations from code: `parzen server` and the tests call this."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from alembic import command
from alembic.config import Config

# A source tree (pip install -e ., the tests) keeps alembic.ini beside service/; a wheel
# (the server image) installs it as data files under <prefix>/share/parzen (pyproject.toml).
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
INSTALLED_INI = Path(sysconfig.get_path("data")) / "share" / "parzen" / "alembic.ini"


def find_alembic_ini() -> Path:
    for path in (ALEMBIC_INI, INSTALLED_INI):
        if path.exists():
            return path
    raise RuntimeError(
        f"alembic.ini not found at {ALEMBIC_INI} or {INSTALLED_INI}: "
        "install Parzen from its source tree or from its wheel."
    )


def alembic_config(url: str) -> Config:
    config = Config(str(find_alembic_ini()))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)

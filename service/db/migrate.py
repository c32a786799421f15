"""Apply Alembic migrations from code: `parzen server` and the tests call this."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from alembic import command
from alembic.config import Config

# A source tree (pip install -e ., the tests) keeps alembic.ini beside service/; a wheel
# (the server image) installs it as data files under <prefix>/share/parzen (pyproject.toml),
# and `pip install --target DIR` puts those in DIR/share/parzen, beside the packages.
_PACKAGES = Path(__file__).resolve().parents[2]
ALEMBIC_INI = _PACKAGES / "alembic.ini"
INSTALLED_INIS = (
    Path(sysconfig.get_path("data")) / "share" / "parzen" / "alembic.ini",
    _PACKAGES / "share" / "parzen" / "alembic.ini",
)


def find_alembic_ini() -> Path:
    candidates = (ALEMBIC_INI, *INSTALLED_INIS)
    for path in candidates:
        if path.exists():
            return path
    raise RuntimeError(
        f"alembic.ini not found in {', '.join(map(str, candidates))}: "
        "install Parzen from its source tree or from its wheel."
    )


def alembic_config(url: str) -> Config:
    config = Config(str(find_alembic_ini()))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)

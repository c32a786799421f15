"""Compose and Docker secrets reach the server as files in /run/secrets (docker-compose.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parzen.service.config import Settings, secrets_dir


def test_a_secret_file_named_like_the_setting_gives_the_admin_token(tmp_path: Path) -> None:
    """If this fails, the compose file's `parzen_admin_token` secret no longer reaches the
    server, and a Compose deployment starts without its first admin token."""
    # With the newline `echo > file` writes.
    (tmp_path / "parzen_admin_token").write_text("s3cret-token-from-a-file\n")
    settings = Settings(_secrets_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.admin_token == "s3cret-token-from-a-file"


def test_the_environment_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, an operator cannot override a mounted secret with PARZEN_ADMIN_TOKEN."""
    (tmp_path / "parzen_admin_token").write_text("admin-token-from-a-file")
    monkeypatch.setenv("PARZEN_ADMIN_TOKEN", "admin-token-from-the-env")
    assert Settings(_secrets_dir=tmp_path).admin_token == "admin-token-from-the-env"  # type: ignore[call-arg]


def test_the_secrets_dir_is_named_only_when_it_exists(tmp_path: Path) -> None:
    """If this fails, every process off a container warns that /run/secrets is missing (or a
    container with secrets mounted ignores them)."""
    assert secrets_dir(tmp_path) == tmp_path
    assert secrets_dir(tmp_path / "absent") is None

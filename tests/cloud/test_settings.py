"""Cloud settings: defaults, environment, TOML file, masking, and the generated secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cloud.secrets import jwt_secret
from cloud.settings import CloudSettings, ConfigFileMissing, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No outside configuration: the settings variables unset, XDG folders under tmp_path."""
    for name in ("STUDYLENS_CLOUD_CONFIG", "STATE_DIRECTORY", "STUDYLENS_CLOUD_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_embedded_defaults(tmp_path: Path) -> None:
    """With nothing configured, settings are embedded: SQLite in the XDG data folder, no S3."""
    settings = load_settings()
    assert settings.data_dir == tmp_path / "data" / "studylens-cloud"
    assert settings.database_address() == (
        f"sqlite+aiosqlite:///{tmp_path / 'data' / 'studylens-cloud' / 'cloud.db'}"
    )
    assert settings.s3_bucket is None
    assert settings.access_token_ttl_seconds == 900


def test_client_ids_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Google client ids are read from a comma-separated environment variable."""
    monkeypatch.setenv("STUDYLENS_CLOUD_GOOGLE_CLIENT_IDS", "web.apps, ios.apps")
    assert load_settings().google_client_ids == ["web.apps", "ios.apps"]


def test_flag_beats_environment_beats_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A flag overrides the environment, which overrides the TOML file."""
    config = tmp_path / "cloud.toml"
    config.write_text('port = 7000\ns3_bucket = "from-file"\nlog_level = "debug"\n')
    monkeypatch.setenv("STUDYLENS_CLOUD_PORT", "7100")
    monkeypatch.setenv("STUDYLENS_CLOUD_S3_BUCKET", "from-env")
    settings = load_settings(config, port=7200)
    assert (settings.port, settings.s3_bucket, settings.log_level) == (7200, "from-env", "debug")


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    """A config file named explicitly must exist."""
    with pytest.raises(ConfigFileMissing):
        load_settings(tmp_path / "missing.toml")


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The JWT secret and database URL are masked, and repr never shows the secret."""
    monkeypatch.setenv("STUDYLENS_CLOUD_JWT_SECRET", "super-secret-value")
    monkeypatch.setenv("STUDYLENS_CLOUD_DATABASE_URL", "postgresql+asyncpg://u:pw@db/x")
    shown = load_settings().masked()
    assert shown["jwt_secret"] == "********"  # noqa: S105 - the mask, not a secret
    assert shown["database_url"] == "********"
    assert "super-secret-value" not in repr(load_settings())


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    """The generated JWT secret is long, stays the same, and is saved with mode 0600."""
    settings = CloudSettings(data_dir=tmp_path / "d")
    first = jwt_secret(settings)
    assert len(first) >= 64
    assert jwt_secret(settings) == first
    mode = stat.S_IMODE((tmp_path / "d" / "jwt-secret").stat().st_mode)
    assert mode == 0o600


def test_unknown_setting_is_refused() -> None:
    """An unknown setting is refused."""
    with pytest.raises(ValueError, match="extra"):
        CloudSettings(colour="blue")  # type: ignore[call-arg]

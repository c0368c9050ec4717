"""What edge and cloud settings share: where files live, the source order, and masking.

Sources, strongest first: CLI flags, `STUDYLENS_*` environment variables, a TOML file, defaults.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from shared.errors import ReportedError

#: The TOML file of the settings being loaded; a context variable so loads never interfere.
_config_file: ContextVar[Path | None] = ContextVar("studylens_config_file", default=None)


def state_or_data_dir(name: str) -> Path:
    """Return systemd's state directory when run as a unit, else `name` in the XDG data home."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        # systemd passes a colon-separated list when a unit names several; ours is the first.
        return Path(state.split(":")[0])
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / name


def config_path(file_name: str) -> Path:
    """Where a TOML file is looked for when none is named: the XDG config home."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "studylens" / file_name


class LayeredSettings(BaseSettings):
    """Base of each side's settings: flags, then environment, then the TOML file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: flags, then environment, then the TOML file."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file.get())
        return (init_settings, env_settings, toml)

    def masked(self) -> dict[str, Any]:
        """Return the effective settings as plain values, secrets replaced by a mask."""
        return masked_values(self)


def masked_values(values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Return `(name, value)` pairs as plain values, secrets replaced by a mask."""
    shown: dict[str, Any] = {}
    for name, value in values:
        if isinstance(value, SecretStr):
            shown[name] = "********"
        elif isinstance(value, Path):
            shown[name] = str(value)
        else:
            shown[name] = value
    return shown


class ConfigFileMissing(ReportedError):
    """A config file was named explicitly but does not exist."""

    code = "config_file_missing"


S = TypeVar("S", bound=LayeredSettings)


def load_layered(
    cls: type[S], config_env: str, default_file: Path, config_file: Path | None, **flags: Any
) -> S:
    """Build settings of `cls`; `flags` are CLI values, `None` meaning "not given".

    The TOML file is `config_file`, else `$config_env`, else `default_file` if it exists.
    """
    named = config_file or (Path(os.environ[config_env]) if os.environ.get(config_env) else None)
    if named is not None and not named.is_file():
        raise ConfigFileMissing(f"config file not found: {named}")
    path = named or default_file
    token = _config_file.set(path if path.is_file() else None)
    try:
        return cls(**{key: value for key, value in flags.items() if value is not None})
    finally:
        _config_file.reset(token)

"""The settings' flat input format: every documented name reaches its section, from each source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from edge.settings import EdgeSettings, flat_names, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


pytestmark = pytest.mark.usefixtures("hermetic_env")


def test_every_flat_name_is_in_the_readme_table() -> None:
    """Each setting the model reads is documented under Configuration, by its flat name."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Configuration") : text.index("Example `~/.config")]
    assert [name for name in flat_names() if f"`{name}`" not in table] == []


# flat name, the value given, the section and field it lands in, the value it holds there
CASES: list[tuple[str, str, str, str, Any]] = [
    ("voice_frame_ms", "40", "relay", "frame_ms", 40),
    ("voice_record", "true", "relay", "record", True),
    ("voice", "cedar", "realtime", "voice", "cedar"),
    ("voice_vad", "semantic_vad", "realtime", "vad", "semantic_vad"),
    ("realtime_url", "ws://x", "realtime", "url", "ws://x"),
    ("hybrid_max_frames", "7", "hybrid", "max_frames", 7),
    ("sync_batch_size", "8", "sync", "batch_size", 8),
    ("originals_retention_days", "3", "sync", "retention_days", 3),
    ("mdns", "false", "discovery", "enabled", False),
    ("mdns_name", "Ada", "discovery", "name", "Ada"),
    ("ocr_threads", "4", "vision", "ocr_threads", 4),
    ("vision_backend", "local", "vision", "backend", "local"),
    ("session_idle_minutes", "5", "sessions", "idle_minutes", 5),
    ("study_goal_minutes_per_day", "45", "goal", "minutes_per_day", 45),
    ("cards_per_session", "3", "cards", "per_session", 3),
    ("max_json_body_bytes", "2048", "limits", "max_json_body_bytes", 2048),
    ("pairing_code_minutes", "2", "access", "pairing_code_minutes", 2),
    ("model_image_quality", "60", "frames", "model_image_quality", 60),
]


@pytest.mark.parametrize(("name", "raw", "section", "field", "held"), CASES)
def test_an_env_var_reaches_its_section(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str, section: str, field: str, held: Any
) -> None:
    """`STUDYLENS_<FLAT_NAME>` sets the section's field."""
    monkeypatch.setenv(f"STUDYLENS_{name.upper()}", raw)
    assert getattr(getattr(load_settings(), section), field) == held


@pytest.mark.parametrize(("name", "raw", "section", "field", "held"), CASES)
def test_a_toml_key_reaches_its_section(
    tmp_path: Path, name: str, raw: str, section: str, field: str, held: Any
) -> None:
    """The flat TOML key sets the section's field."""
    value = raw if raw in ("true", "false") or raw.isdigit() else f'"{raw}"'
    config = tmp_path / "edge.toml"
    config.write_text(f"{name} = {value}\n", encoding="utf-8")
    assert getattr(getattr(load_settings(config), section), field) == held


def test_list_env_vars_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """`STUDYLENS_TOPICS` and `STUDYLENS_ALLOWED_HOSTS` are JSON lists, as before sections."""
    monkeypatch.setenv("STUDYLENS_TOPICS", '["Latin", "Greek"]')
    monkeypatch.setenv("STUDYLENS_ALLOWED_HOSTS", '["study.local"]')
    settings = load_settings()
    assert settings.frames.topics == ["Latin", "Greek"]
    assert settings.access.allowed_hosts == ["study.local"]


def test_flag_beats_env_beats_file_inside_a_section(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The source order holds field by field, also for fields of one section."""
    config = tmp_path / "edge.toml"
    config.write_text("voice_frame_ms = 30\nvoice_soft_limit_bytes = 2000\n", encoding="utf-8")
    monkeypatch.setenv("STUDYLENS_VOICE_FRAME_MS", "40")
    monkeypatch.setenv("STUDYLENS_VOICE_HARD_LIMIT_BYTES", "5000")

    relay = load_settings(config, voice_frame_ms=50).relay

    assert (relay.frame_ms, relay.soft_limit_bytes, relay.hard_limit_bytes) == (50, 2000, 5000)
    assert relay.max_frame_bytes == 64_000  # untouched fields keep their defaults


def test_an_invalid_section_value_is_reported_by_its_flat_name() -> None:
    """The error names `voice_frame_ms`, what the user set, not the section's field."""
    with pytest.raises(ValidationError) as caught:
        load_settings(voice_frame_ms=5)
    assert [err["loc"] for err in caught.value.errors()] == [("voice_frame_ms",)]


def test_the_secret_is_masked_under_its_flat_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key lives in the openai section; `masked()` shows it flat, as `********`."""
    monkeypatch.setenv("STUDYLENS_OPENAI_API_KEY", "sk-secret")
    settings = load_settings()
    assert settings.openai.api_key == SecretStr("sk-secret")
    assert settings.masked()["openai_api_key"] == "********"


def test_flat_round_trips_and_updated_validates() -> None:
    """`flat()` feeds back into the model unchanged; `updated()` validates what it changes."""
    settings = load_settings(voice_frame_ms=40, sync_enabled=False)
    assert EdgeSettings.model_validate(settings.flat()) == settings
    assert settings.updated(hybrid_max_frames=3).hybrid.max_frames == 3
    assert settings.updated(hybrid_max_frames=3).relay.frame_ms == 40
    with pytest.raises(ValidationError):
        settings.updated(voice_frame_ms=5)


def test_sections_are_frozen() -> None:
    """A section handed to a component cannot be changed under it."""
    with pytest.raises(ValidationError):
        load_settings().relay.frame_ms = 99  # type: ignore[misc]


def test_the_study_goal_defaults_to_an_hour_a_day() -> None:
    """With nothing set, a day's goal is 60 minutes."""
    assert load_settings().goal.minutes_per_day == 60


@pytest.mark.parametrize("minutes", [0, 1441, -5])
def test_a_study_goal_outside_a_day_is_refused(minutes: int) -> None:
    """The goal is 1 to 1440 minutes; beyond, the error names the flat setting."""
    with pytest.raises(ValidationError) as caught:
        load_settings(study_goal_minutes_per_day=minutes)
    assert [err["loc"] for err in caught.value.errors()] == [("study_goal_minutes_per_day",)]

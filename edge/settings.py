"""Edge settings: CLI flag > `STUDYLENS_*` environment variable > TOML file > default."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ConfigFileMissing as ConfigFileMissing  # re-exported for callers
from shared.settings import (
    LayeredSettings,
    config_path,
    load_layered,
    state_or_data_dir,
)
from shared.topics import STUDY_TOPICS

ENV_PREFIX = "STUDYLENS_"
CONFIG_ENV = "STUDYLENS_CONFIG"


def default_data_dir() -> Path:
    """Return systemd's state directory when run as a unit, else the XDG data home."""
    return state_or_data_dir("studylens")


def default_config_file() -> Path:
    """Return where the TOML file is looked for when none is named."""
    return config_path("edge.toml")


class EdgeSettings(LayeredSettings):
    """Everything the edge daemon can be told; every field is documented for `config show`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the database and images live ($STATE_DIRECTORY, else XDG data home).",
    )
    host: str = Field(
        "0.0.0.0",  # noqa: S104 - the phone is on the LAN; strangers get 401 (pairing)
        description="Address to listen on; 127.0.0.1 keeps the daemon to this computer.",
    )
    port: int = Field(8765, ge=1, le=65535, description="TCP port of the HTTP/WebSocket server.")
    timezone: str | None = Field(
        None, description="IANA time zone for days and midnight splits; default: the system's."
    )
    session_idle_minutes: float = Field(
        30, gt=0, description="A session with no activity for this long ends by itself."
    )
    idle_check_seconds: float = Field(
        30, gt=0, description="How often the daemon looks for idle sessions."
    )
    max_json_body_bytes: int = Field(
        64 * 1024, ge=1024, description="Largest JSON request body accepted (413 beyond)."
    )
    body_timeout_seconds: float = Field(
        15, gt=0, le=600, description="Time a request body may take to arrive (408 beyond)."
    )
    max_requests_per_client: int = Field(
        32,
        ge=4,
        description="Requests one address may have open at once, sockets and streams included "
        "(429 beyond).",
    )
    max_connections_per_client: int = Field(
        64,
        ge=4,
        description="Connections one address may hold open at once, idle ones included "
        "(more are hung up on).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        description="OpenAI API key for frame analysis (else $OPENAI_API_KEY); never printed.",
    )
    openai_base_url: str | None = Field(
        None,
        description="OpenAI-compatible API base URL (else $OPENAI_BASE_URL, else OpenAI's).",
    )
    vision_model: str = Field("gpt-4.1", description="Model that analyses frames.")
    vision_detail: Literal["low", "high", "auto"] = Field(
        "high", description="Image detail asked of the model; high reads text on a page."
    )
    vision_timeout_seconds: float = Field(
        30, gt=0, description="Give up on one model request after this long (504)."
    )
    vision_max_retries: int = Field(
        2, ge=0, le=10, description="SDK retries on rate limits, outages and timeouts."
    )
    extracted_text_max_chars: int = Field(
        300, ge=0, le=4000, description="Longest extractedText kept; bounds the model's output."
    )
    topics: list[str] = Field(
        default_factory=lambda: list(STUDY_TOPICS),
        min_length=1,
        description="Topics frames are sorted into; others become Other, none Unknown.",
    )
    max_image_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest frame upload accepted (413 beyond)."
    )
    max_image_pixels: int = Field(
        50_000_000, ge=10_000, description="Largest frame in pixels (decompression-bomb guard)."
    )
    model_image_short_side: int = Field(
        768, ge=64, le=4096, description="Frames are downscaled to this short side for the model."
    )
    model_image_quality: int = Field(
        80, ge=30, le=95, description="JPEG quality of the downscaled frame sent to the model."
    )
    dedupe_frames: bool = Field(
        True, description="Reuse the last analysis for a frame that looks the same (no call)."
    )
    duplicate_max_distance: int = Field(
        6, ge=0, le=64, description="Most dHash bits two frames may differ by to count as same."
    )

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra host names the daemon answers to (its own names and IPs always).",
    )
    mdns: bool = Field(True, description="Advertise the daemon on the local network (mDNS).")
    mdns_name: str | None = Field(
        None,
        min_length=1,
        max_length=63,  # a DNS label: zeroconf refuses longer instance names
        description="mDNS instance name the phone shows (default: the host name).",
    )
    tls: bool = Field(
        False, description="Serve HTTPS/WSS with a self-signed certificate kept in the data dir."
    )
    pairing_code_minutes: float = Field(
        5, gt=0, le=60, description="How long a pairing code stays valid."
    )
    realtime_model: str = Field("gpt-realtime", description="Model of the voice tutor.")
    realtime_url: str | None = Field(
        None,
        description="Realtime WebSocket base URL (default: follows openai_base_url).",
    )
    voice: str = Field("marin", description="The tutor's voice.")
    voice_vad: Literal["server_vad", "semantic_vad"] = Field(
        "server_vad", description="How the model tells the student has finished speaking."
    )
    voice_transcription_model: str = Field(
        "gpt-4o-mini-transcribe", description="Transcribes the student for the transcript events."
    )
    voice_resampler: Literal["soxr", "libsamplerate"] = Field(
        "soxr", description="16->24 kHz resampler (libsamplerate needs the samplerate extra)."
    )
    voice_frame_ms: int = Field(
        20, ge=10, le=200, description="Audio chunk sent per input_audio_buffer.append."
    )
    voice_max_frame_bytes: int = Field(
        64_000, ge=4, description="Largest phone audio frame accepted (1 s at 16 kHz Float32)."
    )
    voice_soft_limit_bytes: int = Field(
        100_000, ge=1_000, description="Buffered audio past which the oldest is dropped."
    )
    voice_hard_limit_bytes: int = Field(
        300_000, ge=1_000, description="Audio a stuck peer may leave untaken before closing."
    )
    voice_session_max_minutes: float = Field(
        55, gt=0, description="Renew the Realtime session after this long (provider cap ~60)."
    )
    voice_context_interval_seconds: float = Field(
        5, ge=0, description="At most one context refresh to the tutor per this many seconds."
    )
    voice_record: bool = Field(
        False, description="Keep each voice session's audio as WAV files in the data dir."
    )
    vision_backend: Literal["auto", "openai", "local", "hybrid"] = Field(
        "auto",
        description="Who analyses frames: the OpenAI model, the on-device OCR analyser, both "
        "(hybrid: the model only when the local reading changes), or auto (openai with a key, "
        "else local).",
    )
    ocr_threads: int = Field(2, ge=1, le=16, description="CPU threads the on-device OCR uses.")
    hybrid_max_frames: int = Field(
        20, ge=1, description="Hybrid: ask the model at least every this many frames."
    )
    hybrid_max_seconds: float = Field(
        120, gt=0, description="Hybrid: ask the model at least this often, in seconds."
    )
    hybrid_text_change: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Hybrid: how different (1 - word overlap) the page text must be to ask.",
    )
    open_on_localhost: bool = Field(
        True,
        description="Serve this computer's own browser without a token (the dashboard); "
        "other devices always need one.",
    )
    sync_enabled: bool = Field(
        True, description="Send facts and originals to the linked cloud (`studylens-edge link`)."
    )
    sync_idle_seconds: float = Field(
        5, gt=0, description="How often an idle sync worker looks for new facts."
    )
    sync_batch_size: int = Field(500, ge=1, le=500, description="Facts per sync request.")
    sync_backoff_cap_seconds: float = Field(
        300, ge=1, description="Longest wait between retries while the cloud fails."
    )
    sync_upload_concurrency: int = Field(
        2, ge=1, le=16, description="Originals uploaded at the same time."
    )
    sync_upload_bytes_per_second: int | None = Field(
        None, ge=1_000, description="Average upload bandwidth cap for originals (none: no cap)."
    )
    originals_retention_days: int | None = Field(
        None,
        ge=1,
        description="Delete local originals this many days old once the cloud holds them "
        "(none: keep forever).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> tzinfo:
        """The student's time zone."""
        return ZoneInfo(self.timezone) if self.timezone else tzlocal.get_localzone()

    @property
    def database_path(self) -> Path:
        """The SQLite file inside the data dir."""
        return self.data_dir / "studylens.db"


def load_settings(config_file: Path | None = None, **flags: Any) -> EdgeSettings:
    """Build the effective settings; `flags` are CLI values, `None` meaning "not given".

    The TOML file is `config_file`, else `$STUDYLENS_CONFIG`, else the XDG default if it exists.
    """
    return load_layered(EdgeSettings, CONFIG_ENV, default_config_file(), config_file, **flags)

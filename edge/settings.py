"""Edge settings: CLI flag > `STUDYLENS_*` environment variable > TOML file > default.

The settings come in sections, one small frozen model per concern, each handed whole to the
part that uses it (the relay gets `relay`, the sync worker `sync`, ...). Their input format is
flat: every field has one flat name (`voice_frame_ms`), which is its TOML key, its environment
variable (`STUDYLENS_VOICE_FRAME_MS`) and its keyword for `load_settings`; a `before` validator
folds the flat names into the sections. Defaults and descriptions live on the section fields
alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shared.settings import ConfigFileMissing as ConfigFileMissing  # re-exported for callers
from shared.settings import (
    LayeredSettings,
    config_path,
    load_layered,
    masked_values,
    state_or_data_dir,
)
from shared.sync import MAX_BATCH_ITEMS
from shared.topics import STUDY_TOPICS

ENV_PREFIX = "STUDYLENS_"
CONFIG_ENV = "STUDYLENS_CONFIG"
#: How the Realtime model tells the student has finished speaking.
Vad = Literal["server_vad", "semantic_vad"]


def default_data_dir() -> Path:
    """Return systemd's state directory when run as a unit, else the XDG data home."""
    return state_or_data_dir("studylens")


def default_config_file() -> Path:
    """Return where the TOML file is looked for when none is named."""
    return config_path("edge.toml")


class Section(BaseModel):
    """One concern's settings; a field's flat name is `flat_prefix` + its name, or renamed."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    #: Put before a field's name to make its flat name (TOML key, env var, keyword).
    flat_prefix: ClassVar[str] = ""
    #: Fields whose flat name is not `flat_prefix` + their name (the documented names predate
    #: the sections and stay as they are).
    flat_renamed: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def flat_name(cls, field: str) -> str:
        """The flat name of `field`."""
        return cls.flat_renamed.get(field, cls.flat_prefix + field)


class SessionSettings(Section):
    """When sessions end by themselves: read by the session service and its idle check."""

    flat_renamed: ClassVar[Mapping[str, str]] = {"idle_minutes": "session_idle_minutes"}

    idle_minutes: float = Field(
        30, gt=0, description="A session with no activity for this long ends by itself."
    )
    idle_check_seconds: float = Field(
        30, gt=0, description="How often the daemon looks for idle sessions."
    )


class GoalSettings(Section):
    """What the student aims for each day: read by the weekly report."""

    flat_renamed: ClassVar[Mapping[str, str]] = {"minutes_per_day": "study_goal_minutes_per_day"}

    minutes_per_day: int = Field(
        60, ge=1, le=1440, description="Study time a day must reach to count as a goal met."
    )


class CardSettings(Section):
    """How review cards are made from a session's pages: read by card making."""

    flat_prefix: ClassVar[str] = "cards_"

    per_session: int = Field(
        8,
        ge=1,
        le=50,
        description="Most review cards made from one session's pages (bounds the model's "
        "output tokens too).",
    )


class LimitSettings(Section):
    """What one client may ask of the HTTP server: read by the server and its middlewares."""

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


class AccessSettings(Section):
    """Who may talk to the daemon: read by the auth middleware and the pairing code's makers."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Extra host names the daemon answers to (its own names and IPs always).",
    )
    open_on_localhost: bool = Field(
        True,
        description="Serve this computer's own browser without a token (the dashboard); "
        "other devices always need one.",
    )
    pairing_code_minutes: float = Field(
        5, gt=0, le=60, description="How long a pairing code stays valid."
    )


class DiscoverySettings(Section):
    """How the daemon is found on the local network: read by the mDNS advertiser."""

    flat_prefix: ClassVar[str] = "mdns_"
    flat_renamed: ClassVar[Mapping[str, str]] = {"enabled": "mdns"}

    enabled: bool = Field(True, description="Advertise the daemon on the local network (mDNS).")
    name: str | None = Field(
        None,
        min_length=1,
        max_length=63,  # a DNS label: zeroconf refuses longer instance names
        description="mDNS instance name the phone shows (default: the host name).",
    )


class OpenAISettings(Section):
    """The OpenAI account: read by the frame model and the voice tutor alike."""

    flat_prefix: ClassVar[str] = "openai_"

    api_key: SecretStr | None = Field(
        None,
        description="OpenAI API key for frame analysis (else $OPENAI_API_KEY); never printed.",
    )
    base_url: str | None = Field(
        None,
        description="OpenAI-compatible API base URL (else $OPENAI_BASE_URL, else OpenAI's).",
    )


class VisionSettings(Section):
    """Who analyses frames and how the model is asked: read by the vision factory."""

    flat_prefix: ClassVar[str] = "vision_"
    flat_renamed: ClassVar[Mapping[str, str]] = {"ocr_threads": "ocr_threads"}

    backend: Literal["auto", "openai", "local", "hybrid"] = Field(
        "auto",
        description="Who analyses frames: the OpenAI model, the on-device OCR analyser, both "
        "(hybrid: the model only when the local reading changes), or auto (openai with a key, "
        "else local).",
    )
    model: str = Field("gpt-4.1", description="Model that analyses frames.")
    detail: Literal["low", "high", "auto"] = Field(
        "high", description="Image detail asked of the model; high reads text on a page."
    )
    timeout_seconds: float = Field(
        30, gt=0, description="Give up on one model request after this long (504)."
    )
    max_retries: int = Field(
        2, ge=0, le=10, description="SDK retries on rate limits, outages and timeouts."
    )
    ocr_threads: int = Field(2, ge=1, le=16, description="CPU threads the on-device OCR uses.")


class HybridSettings(Section):
    """When the on-device reading is enough: the policy of the hybrid analyser."""

    flat_prefix: ClassVar[str] = "hybrid_"

    max_frames: int = Field(
        20, ge=1, description="Hybrid: ask the model at least every this many frames."
    )
    max_seconds: float = Field(
        120, gt=0, description="Hybrid: ask the model at least this often, in seconds."
    )
    text_change: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Hybrid: how different (1 - word overlap) the page text must be to ask.",
    )


class FrameSettings(Section):
    """What a frame may be, how it is prepared and what its analysis may hold: the pipeline's."""

    topics: list[str] = Field(
        default_factory=lambda: list(STUDY_TOPICS),
        min_length=1,
        description="Topics frames are sorted into; others become Other, none Unknown.",
    )
    extracted_text_max_chars: int = Field(
        300, ge=0, le=4000, description="Longest extractedText kept; bounds the model's output."
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
    keep_originals: bool = Field(
        True,
        description="Keep each frame's image (for the dashboard and the cloud); off, only its "
        "analysis is kept: the image never touches the disk and sync sends none.",
    )
    store_extracted_text: bool = Field(
        True,
        description="Keep the text the model read off the page with the analysis; off, it is "
        "used for the answer and the tutor's context but never stored or synced.",
    )


class RealtimeSettings(Section):
    """What a Realtime session is opened with: read by the connector and `session.update`."""

    flat_prefix: ClassVar[str] = "realtime_"
    flat_renamed: ClassVar[Mapping[str, str]] = {
        "voice": "voice",
        "vad": "voice_vad",
        "vad_eagerness": "voice_vad_eagerness",
        "noise_reduction": "voice_noise_reduction",
        "transcription_model": "voice_transcription_model",
    }

    model: str = Field("gpt-realtime", description="Model of the voice tutor.")
    url: str | None = Field(
        None,
        description="Realtime WebSocket base URL (default: follows openai_base_url).",
    )
    voice: str = Field("marin", description="The tutor's voice.")
    vad: Vad = Field(
        "server_vad", description="How the model tells the student has finished speaking."
    )
    vad_eagerness: Literal["auto", "low", "medium", "high"] = Field(
        "auto", description="With semantic_vad: how soon the tutor answers (low waits longest)."
    )
    noise_reduction: Literal["near_field", "far_field", "off"] = Field(
        "near_field",
        description="The provider's input noise reduction: near_field suits a microphone at "
        "the mouth (glasses, headset), far_field a laptop's.",
    )
    transcription_model: str = Field(
        "gpt-4o-mini-transcribe", description="Transcribes the student for the transcript events."
    )


class RelaySettings(Section):
    """How one voice relay moves audio, and whether it is kept: the relay's and the service's."""

    flat_prefix: ClassVar[str] = "voice_"

    resampler: Literal["polyphase", "soxr", "libsamplerate"] = Field(
        "polyphase",
        description="16->24 kHz resampler: polyphase (holds nothing back), soxr (HQ, holds "
        "back 36.6 ms) or libsamplerate (needs the samplerate extra).",
    )
    frame_ms: int | None = Field(
        None,
        ge=10,
        le=200,
        description="Re-frame the audio into appends of this many ms; unset: each phone frame "
        "is sent as it arrives (the lowest delay).",
    )
    max_frame_bytes: int = Field(
        64_000, ge=4, description="Largest phone audio frame accepted (1 s at 16 kHz Float32)."
    )
    soft_limit_bytes: int = Field(
        100_000, ge=1_000, description="Buffered audio past which the oldest is dropped."
    )
    hard_limit_bytes: int = Field(
        300_000, ge=1_000, description="Audio a stuck peer may leave untaken before closing."
    )
    session_max_minutes: float = Field(
        55, gt=0, description="Renew the Realtime session after this long (provider cap ~60)."
    )
    context_interval_seconds: float = Field(
        5, ge=0, description="At most one context refresh to the tutor per this many seconds."
    )
    local_barge_in: bool = Field(
        True,
        description="Hear the student start speaking over the tutor at the edge and stop the "
        "phone at once, before the model's own speech_started comes back.",
    )
    barge_in_min_speech_ms: int = Field(
        100,
        ge=40,
        le=1_000,
        description="Speech over the tutor shorter than this (a cough) interrupts nothing.",
    )
    record: bool = Field(
        False, description="Keep each voice session's audio as WAV files in the data dir."
    )
    recording_retention_days: int = Field(
        7, ge=1, le=3650, description="Voice recordings older than this many days are deleted."
    )

    @property
    def session_max_seconds(self) -> float:
        """`session_max_minutes` in seconds, as the relay's timer counts."""
        return self.session_max_minutes * 60


class SyncSettings(Section):
    """What the sync worker sends and how fast: read by the worker, daemon's and CLI's alike."""

    flat_prefix: ClassVar[str] = "sync_"
    flat_renamed: ClassVar[Mapping[str, str]] = {"retention_days": "originals_retention_days"}

    enabled: bool = Field(
        True, description="Send facts and originals to the linked cloud (`studylens-edge link`)."
    )
    idle_seconds: float = Field(
        5, gt=0, description="How often an idle sync worker looks for new facts."
    )
    batch_size: int = Field(
        MAX_BATCH_ITEMS, ge=1, le=MAX_BATCH_ITEMS, description="Facts per sync request."
    )
    backoff_cap_seconds: float = Field(
        300, ge=1, description="Longest wait between retries while the cloud fails."
    )
    upload_concurrency: int = Field(
        2, ge=1, le=16, description="Originals uploaded at the same time."
    )
    upload_bytes_per_second: int | None = Field(
        None, ge=1_000, description="Average upload bandwidth cap for originals (none: no cap)."
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        description="Delete local originals this many days old once the cloud holds them "
        "(none: keep forever).",
    )


class FlatName(NamedTuple):
    """Where a flat name lives: its section (None: the top level), field and field info."""

    section: str | None
    field: str
    info: FieldInfo


class EdgeSettings(LayeredSettings):
    """Everything the edge daemon can be told: a few top-level fields, the rest in sections."""

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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object a line, with request id, route, status, duration "
        "and a hashed caller; `text`: plain lines.",
    )
    tls: bool = Field(
        False, description="Serve HTTPS/WSS with a self-signed certificate kept in the data dir."
    )
    sessions: SessionSettings = Field(
        default_factory=SessionSettings, description="When sessions end by themselves."
    )
    goal: GoalSettings = Field(default_factory=GoalSettings, description="The daily study goal.")
    cards: CardSettings = Field(
        default_factory=CardSettings, description="Review cards made from session pages."
    )
    limits: LimitSettings = Field(
        default_factory=LimitSettings, description="What one client may ask of the server."
    )
    access: AccessSettings = Field(
        default_factory=AccessSettings, description="Who may talk to the daemon."
    )
    discovery: DiscoverySettings = Field(
        default_factory=DiscoverySettings, description="mDNS advertising on the network."
    )
    openai: OpenAISettings = Field(
        default_factory=OpenAISettings, description="The OpenAI account (frames and voice)."
    )
    vision: VisionSettings = Field(
        default_factory=VisionSettings, description="Who analyses frames, and how."
    )
    hybrid: HybridSettings = Field(
        default_factory=HybridSettings, description="When the hybrid analyser asks the model."
    )
    frames: FrameSettings = Field(
        default_factory=FrameSettings, description="Frame uploads, preparation and analyses."
    )
    realtime: RealtimeSettings = Field(
        default_factory=RealtimeSettings, description="The voice tutor's Realtime sessions."
    )
    relay: RelaySettings = Field(
        default_factory=RelaySettings, description="The voice relay's audio and recordings."
    )
    sync: SyncSettings = Field(
        default_factory=SyncSettings, description="Sending facts and originals to the cloud."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The layered sources, the environment read by the flat names."""
        init, _, *files = super().settings_customise_sources(
            settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        )
        # Sections are not variables: `STUDYLENS_VOICE_FRAME_MS` is read as the flat model
        # would read it (JSON for lists, case-insensitive), then folded like any other source.
        env = EnvSettingsSource(_flat_input_model(), env_prefix=ENV_PREFIX, case_sensitive=False)
        return (init, env, *files)

    @model_validator(mode="before")
    @classmethod
    def _fold_flat_names(cls, data: Any) -> Any:
        """Gather the flat names (flags, env vars, TOML keys) into their sections."""
        if not isinstance(data, dict):
            return data
        names = flat_names()
        folded: dict[str, Any] = {}
        for key, value in data.items():
            place = names.get(key.lower()) if isinstance(key, str) else None
            if place is None or place.section is None:
                folded[key] = value  # a top-level field, a whole section, or an unknown key
                continue
            section = folded.setdefault(place.section, {})
            if isinstance(section, BaseModel):  # a whole section given beside its flat names
                section = folded[place.section] = section.model_dump()
            section[place.field] = value
        return folded

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

    @property
    def recordings_path(self) -> Path:
        """The folder of voice recordings inside the data dir."""
        return self.data_dir / "recordings"

    @property
    def temp_path(self) -> Path:
        """Where downloads are built, inside the data dir: the student's data never lands in /tmp.

        Emptied at each start: what is there was left by a daemon that stopped mid-build.
        """
        return self.data_dir / "tmp"

    def flat(self) -> dict[str, Any]:
        """Every setting under its flat name, as flags, env vars and TOML keys spell it."""
        values: dict[str, Any] = {}
        for name, place in flat_names().items():
            holder = self if place.section is None else getattr(self, place.section)
            values[name] = getattr(holder, place.field)
        return values

    def updated(self, **changes: Any) -> EdgeSettings:
        """A copy with some settings (flat names) changed, validated as any source is."""
        # model_copy(update=...) would skip validation and know nothing of the flat names.
        return type(self).model_validate(self.flat() | changes)

    def masked(self) -> dict[str, Any]:
        """The effective settings under their flat names, secrets replaced by a mask."""
        return masked_values(self.flat().items())


_FLAT_NAMES: dict[str, FlatName] = {}
_FLAT_INPUT: list[type[BaseSettings]] = []


def flat_names() -> dict[str, FlatName]:
    """Every flat name of the settings, in declaration order (top level, then by section)."""
    if not _FLAT_NAMES:
        for name, info in EdgeSettings.model_fields.items():
            kind = info.annotation
            if isinstance(kind, type) and issubclass(kind, Section):
                for field, sub in kind.model_fields.items():
                    _FLAT_NAMES[kind.flat_name(field)] = FlatName(name, field, sub)
            else:
                _FLAT_NAMES[name] = FlatName(None, name, info)
    return _FLAT_NAMES


def _flat_input_model() -> type[BaseSettings]:
    """A model of the flat names alone, never built: the environment source reads its fields."""
    if not _FLAT_INPUT:
        fields: dict[str, Any] = {
            name: (place.info.annotation, place.info) for name, place in flat_names().items()
        }
        _FLAT_INPUT.append(create_model("EdgeFlatInput", __base__=BaseSettings, **fields))
    return _FLAT_INPUT[0]


def _with_flat_locations(exc: ValidationError) -> ValidationError:
    """`exc` with each section field's location replaced by its flat name (what the user set)."""
    sections = {
        name: info.annotation
        for name, info in EdgeSettings.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
    }
    details: list[InitErrorDetails] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        kind = sections.get(str(loc[0])) if len(loc) >= 2 else None
        if kind is not None:
            loc = (kind.flat_name(str(loc[1])), *loc[2:])
        detail = InitErrorDetails(type=err["type"], loc=loc, input=err["input"])
        if "ctx" in err:
            detail["ctx"] = err["ctx"]
        details.append(detail)
    try:
        return ValidationError.from_exception_data(exc.title, details)
    except (KeyError, TypeError, ValueError):  # an error type that cannot be rebuilt
        return exc


def load_settings(config_file: Path | None = None, **flags: Any) -> EdgeSettings:
    """Build the effective settings; `flags` are CLI values (flat names), `None` "not given".

    The TOML file is `config_file`, else `$STUDYLENS_CONFIG`, else the XDG default if it exists.
    """
    try:
        return load_layered(EdgeSettings, CONFIG_ENV, default_config_file(), config_file, **flags)
    except ValidationError as exc:
        raise _with_flat_locations(exc) from None

"""Cloud settings: CLI flag > `STUDYLENS_CLOUD_*` environment variable > TOML file > default.

With nothing configured the API runs embedded: SQLite and an object folder inside the data dir.
A database URL switches it to PostgreSQL, an S3 bucket to S3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ConfigFileMissing as ConfigFileMissing  # re-exported for callers
from shared.settings import (
    LayeredSettings,
    config_path,
    load_layered,
    state_or_data_dir,
)

ENV_PREFIX = "STUDYLENS_CLOUD_"
CONFIG_ENV = "STUDYLENS_CLOUD_CONFIG"
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"


def default_data_dir() -> Path:
    """Return systemd's state directory when run as a unit, else the XDG data home."""
    return state_or_data_dir("studylens-cloud")


def default_config_file() -> Path:
    """Return the XDG config location of the cloud's TOML file."""
    return config_path("cloud.toml")


class CloudSettings(LayeredSettings):
    """Everything the cloud API can be told; secrets are `SecretStr` and never printed."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on.")
    workers: int = Field(1, ge=1, le=64, description="API processes `serve` starts.")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="SQLite file, object folder and generated secret in the embedded setup.",
    )
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy async URL, e.g. postgresql+asyncpg://user:pw@host/db; "
        "default: SQLite in the data dir.",
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="Connections per process.")
    database_secret_arn: str | None = Field(
        None,
        description="AWS Secrets Manager secret of the database user (JSON with `username` and "
        "`password`, and `host`, `port`, `dbname` when it has them), such as the master secret "
        "RDS manages; the database URL is built from it and `database_host`, `database_port`, "
        "`database_name`. Takes the place of `database_url`.",
    )
    database_host: str | None = Field(
        None, description="PostgreSQL host when the secret does not name it (the RDS endpoint)."
    )
    database_port: int = Field(5432, ge=1, le=65535, description="PostgreSQL port, likewise.")
    database_name: str = Field("studylens", description="PostgreSQL database name, likewise.")
    s3_bucket: str | None = Field(None, description="S3 bucket for images; default: a folder.")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, moto); default: AWS."
    )
    s3_region: str = Field("us-east-1", description="Region of the bucket.")
    s3_access_key_id: SecretStr | None = Field(
        None, description="S3 key id; default: boto3's own chain (instance role on EC2)."
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="S3 secret key.")
    public_url: str | None = Field(
        None,
        description="Base URL clients reach the API at (for links it hands out); "
        "default: the URL of the request.",
    )
    jwt_secret: SecretStr | None = Field(
        None,
        description="HMAC key of access tokens; default: a random key kept in the data dir "
        "(every process of one deployment must share it).",
    )
    jwt_secret_arn: str | None = Field(
        None,
        description="AWS Secrets Manager secret holding the HMAC key of access tokens; takes the "
        "place of `jwt_secret`.",
    )
    aws_region: str | None = Field(
        None, description="Region of the Secrets Manager secrets; default: that of their ARN."
    )
    secrets_endpoint_url: str | None = Field(
        None, description="Secrets Manager endpoint (moto in the tests); default: AWS."
    )
    jwt_issuer: str = Field("studylens-cloud", description="`iss` of the access tokens.")
    access_token_ttl_seconds: int = Field(900, ge=30, le=3600, description="Access JWT life.")
    refresh_token_ttl_days: int = Field(30, ge=1, le=365, description="Refresh token life.")
    refresh_grace_seconds: float = Field(
        30.0,
        ge=0,
        le=600,
        description="How long a just-rotated refresh token still yields its successor "
        "(a client that lost the refresh response retries).",
    )
    google_client_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="OAuth client ids Google ID tokens may be issued to (comma-separated).",
    )
    google_jwks_url: str = Field(GOOGLE_JWKS_URL, description="Where Google's keys are.")
    google_jwks_refetch_seconds: float = Field(
        10.0, ge=0, description="Least time between two key fetches for unknown key ids."
    )
    cookie_secure: bool = Field(True, description="Mark auth cookies Secure (HTTPS only).")
    device_code_ttl_seconds: int = Field(600, ge=60, le=3600, description="Device code life.")
    device_poll_interval_seconds: int = Field(
        5, ge=1, le=60, description="Least seconds between two device token polls."
    )
    device_code_rate_limit: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Device codes one client address may ask for per rate window (more: 429).",
    )
    device_code_rate_window_seconds: int = Field(
        60, ge=1, le=86_400, description="Length of the per-address window of device codes."
    )
    device_code_max_pending: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Unexpired, unused device codes at most, all addresses together (more: 503).",
    )
    device_approve_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Wrong user codes a student may enter (approve or look up) before a lock-out.",
    )
    device_approve_lockout_seconds: int = Field(
        60,
        ge=1,
        le=86_400,
        description="First lock-out after too many wrong user codes; each further one doubles it "
        "(at most a day).",
    )
    device_approve_failure_reset_seconds: int = Field(
        3600,
        ge=60,
        le=30 * 86_400,
        description="Wrong user codes are forgotten after this long without another.",
    )
    presign_ttl_seconds: int = Field(900, ge=60, le=7 * 86_400, description="Presigned URL life.")
    log_level: str = Field("info", description="Python logging level.")
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token a scraper sends to `GET /metrics` (an admin's token works too); "
        "without one, only admins may read it.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: one JSON object a line (for CloudWatch), with request id, route, "
        "status, duration and a hashed user id; `text`: plain lines.",
    )
    shutdown_grace_seconds: float = Field(
        20.0,
        ge=0,
        le=300,
        description="On SIGTERM: how long requests in flight may still take before the process "
        "exits (`/readyz` answers 503 meanwhile).",
    )
    shutdown_drain_seconds: float = Field(
        0.0,
        ge=0,
        le=120,
        description="On SIGTERM: how long the process keeps serving, `/readyz` answering 503, "
        "before it closes its socket, so a load balancer sees the failing check first (its "
        "unhealthy threshold times its interval); a second signal ends it at once.",
    )

    @field_validator("google_client_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> CloudSettings:
        # Refused rather than one winning: two sources of one secret is a mistake in the
        # deployment, and a silent winner would hide which database or key is in use.
        for plain, arn in (
            ("database_url", "database_secret_arn"),
            ("jwt_secret", "jwt_secret_arn"),
        ):
            if getattr(self, plain) is not None and getattr(self, arn) is not None:
                raise ValueError(f"{plain} and {arn} are both set; set one of them")
        return self

    @property
    def sqlite_path(self) -> Path:
        """The embedded database file."""
        return self.data_dir / "cloud.db"

    @property
    def objects_dir(self) -> Path:
        """The embedded object folder."""
        return self.data_dir / "objects"

    def database_address(self) -> str:
        """The SQLAlchemy URL in effect (with `database_secret_arn`: of the resolved settings).

        Settings naming a secret by ARN must go through `cloud.secrets.resolve_secrets` first;
        here they raise rather than fall back to SQLite.
        """
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.database_secret_arn is not None:
            raise RuntimeError(
                "database_secret_arn is set: pass the settings through resolve_secrets first"
            )
        return f"sqlite+aiosqlite:///{self.sqlite_path}"


def load_settings(config_file: Path | None = None, **flags: Any) -> CloudSettings:
    """Build the effective settings; `flags` are CLI values, `None` meaning "not given"."""
    return load_layered(CloudSettings, CONFIG_ENV, default_config_file(), config_file, **flags)

"""The cloud's two secrets: the database URL and the signing key of access tokens.

Each comes as a plain setting (`database_url`, `jwt_secret`) or by the ARN of an AWS Secrets
Manager secret (`database_secret_arn`, `jwt_secret_arn`); setting both is refused by the settings.
`resolve_secrets` turns the ARNs into plain values once per process, at startup; everything after
it reads `settings.database_address()` and `jwt_secret(settings)` as before. Without either, the
database is SQLite in the data dir and the key is made once and kept there.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.engine import URL, make_url

from cloud.aws_secrets import (
    DatabaseSecret,
    SecretsManagerStore,
    SecretStore,
    database_secret,
    jwt_key,
)
from cloud.errors import SecretsUnavailable
from cloud.settings import CloudSettings

SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


def jwt_secret(settings: CloudSettings) -> str:
    """The configured secret, else the data dir's one (created 0600 on first use).

    Creation uses O_EXCL, so two processes starting together agree on one key.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_arn is not None:
        raise RuntimeError("jwt_secret_arn is set: pass the settings through resolve_secrets first")
    path = settings.data_dir / SECRET_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return _read(path)


def _read(path: Path) -> str:
    for _ in range(100):
        value = path.read_text().strip()
        if value:
            return value
        # Another process created the file an instant ago and is still writing it.
        time.sleep(0.01)
    raise RuntimeError(f"{path} stays empty; delete it and start again")


def resolve_secrets(settings: CloudSettings, store: SecretStore | None = None) -> CloudSettings:
    """`settings` with the secrets named by ARN read into `database_url` and `jwt_secret`.

    The copy names no ARN any more, so resolving it again reads nothing. `store` defaults to
    AWS Secrets Manager (region: `aws_region`, else the ARN's; endpoint: `secrets_endpoint_url`),
    read once per process for the same settings (`serve` resolves them for the migrations and
    again in the API process it runs). Blocking: call it before an event loop serves anything.
    Raises `SecretsUnavailable`, naming the ARN and never a secret's value.
    """
    wanted = Lookup(
        database_arn=settings.database_secret_arn,
        host=settings.database_host,
        port=settings.database_port,
        name=settings.database_name,
        jwt_arn=settings.jwt_secret_arn,
    )
    if wanted.database_arn is None and wanted.jwt_arn is None:
        return settings
    if store is None:
        database, key = _from_aws(wanted, settings.aws_region, settings.secrets_endpoint_url)
    else:
        database, key = wanted.read(store)
    update: dict[str, object] = {"database_secret_arn": None, "jwt_secret_arn": None}
    if database is not None:
        update["database_url"] = database
    if key is not None:
        update["jwt_secret"] = key
    return settings.model_copy(update=update)


@dataclass(frozen=True)
class Lookup:
    """The settings that say which secrets to read and how to complete the database URL."""

    database_arn: str | None
    host: str | None
    port: int
    name: str
    jwt_arn: str | None

    def read(self, store: SecretStore) -> tuple[SecretStr | None, SecretStr | None]:
        """The database URL and the JWT key, each `None` when its ARN is not set."""
        database = key = None
        if (arn := self.database_arn) is not None:
            secret = database_secret(store.secret_text(arn), arn)
            database = SecretStr(database_url(secret, self.host, self.port, self.name, arn))
        if (arn := self.jwt_arn) is not None:
            key = SecretStr(jwt_key(store.secret_text(arn), arn))
        return database, key


@functools.cache
def _from_aws(
    wanted: Lookup, region: str | None, endpoint_url: str | None
) -> tuple[SecretStr | None, SecretStr | None]:
    return wanted.read(SecretsManagerStore(region=region, endpoint_url=endpoint_url))


def database_url(secret: DatabaseSecret, host: str | None, port: int, name: str, arn: str) -> str:
    """The asyncpg URL of the secret's user: its host, port and name, else those given.

    Built by SQLAlchemy, so any character of the password survives (`@`, `:`, `/`, `%`).
    """
    host = secret.host or host
    if host is None:
        raise SecretsUnavailable(
            f"database secret {arn} names no host, and database_host is not set "
            "(the RDS endpoint address)"
        )
    url = URL.create(
        "postgresql+asyncpg",
        username=secret.username,
        password=secret.password,
        host=host,
        port=secret.port or port,
        database=secret.dbname or name,
    )
    return url.render_as_string(hide_password=False)


class SecretPassword:
    """The database user's password in its secret, read again when the database refuses it.

    RDS rotates the password of the secret it manages (every 7 days by default); the engine
    asks for a fresh read only when a new connection is refused, never per connection.
    """

    def __init__(self, arn: str, store: SecretStore, current: str) -> None:
        self._arn = arn
        self._store = store
        self._current = current

    @property
    def current(self) -> str:
        """The password as last read."""
        return self._current

    def refresh(self) -> None:
        """Read the secret again (blocking); `SecretsUnavailable` if it cannot be read."""
        self._current = database_secret(self._store.secret_text(self._arn), self._arn).password


def rotating_password(
    settings: CloudSettings, resolved: CloudSettings, store: SecretStore | None = None
) -> SecretPassword | None:
    """For settings naming the database user by ARN: its password, kept up to date."""
    arn = settings.database_secret_arn
    if arn is None:
        return None
    password = make_url(resolved.database_address()).password
    assert password is not None  # noqa: S101 - resolve_secrets put the secret's in the URL
    source = store or SecretsManagerStore(
        region=settings.aws_region, endpoint_url=settings.secrets_endpoint_url
    )
    return SecretPassword(arn, source, password)

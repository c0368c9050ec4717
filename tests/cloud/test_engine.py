"""The engine follows a rotated database password: a new connection after the rotation opens."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from cloud.aws_secrets import SecretsManagerStore
from cloud.db.engine import make_engine
from cloud.secrets import SecretPassword, resolve_secrets, rotating_password
from cloud.settings import CloudSettings
from tests import conftest
from tests.cloud.secrets_support import REGION, FakeSecretsManager

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
async def login() -> AsyncIterator[dict[str, Any]]:
    """A PostgreSQL login of its own (dropped after): its name, password and the database."""
    name = f"rotated_{uuid.uuid4().hex[:10]}"
    password = secrets.token_urlsafe(16)
    await conftest.pg_admin(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    url = make_url(conftest.test_database_url())
    try:
        yield {
            "username": name,
            "password": password,
            "host": url.host,
            "port": url.port,
            "dbname": url.database,
        }
    finally:
        await conftest.pg_admin(f"DROP ROLE IF EXISTS {name}")


async def rotate(login: dict[str, Any], manager: FakeSecretsManager, arn: str) -> None:
    """What RDS does: a new password for the login, then the secret's new version."""
    login["password"] = secrets.token_urlsafe(16)
    await conftest.pg_admin(f"ALTER ROLE {login['username']} PASSWORD '{login['password']}'")
    manager.client().put_secret_value(SecretId=arn, SecretString=json.dumps(login))


async def who(engine: Any) -> str:
    """The user a fresh connection of the engine logs in as."""
    await engine.dispose()  # no pooled connection: the next one is opened now
    async with engine.connect() as conn:
        return str((await conn.execute(text("SELECT current_user"))).scalar_one())


@dataclass
class Engine:
    """An engine on the login's secret, the secret's ARN, and its password source if any."""

    engine: AsyncEngine
    arn: str
    password: SecretPassword | None


@pytest.fixture
async def engine_of(
    login: dict[str, Any], secrets_manager: FakeSecretsManager
) -> AsyncIterator[Callable[[bool], Engine]]:
    """Make an engine for the login's secret, following its rotation or not; disposed after."""
    made: list[AsyncEngine] = []

    def make(rotating: bool) -> Engine:
        arn = secrets_manager.create(login)
        settings = CloudSettings(
            database_secret_arn=arn,
            secrets_endpoint_url=secrets_manager.endpoint_url,
            aws_region=REGION,
        )
        store = SecretsManagerStore(endpoint_url=secrets_manager.endpoint_url)
        resolved = resolve_secrets(settings, store)
        password = rotating_password(settings, resolved) if rotating else None
        engine = make_engine(resolved.database_address(), pool_size=1, password=password)
        made.append(engine)
        return Engine(engine, arn, password)

    yield make
    for engine in made:
        await engine.dispose()


async def test_a_new_connection_after_a_rotation_uses_the_new_password(
    login: dict[str, Any], secrets_manager: FakeSecretsManager, engine_of: Any
) -> None:
    """Connected before; the password rotates; the next connection opens (no restart)."""
    made = engine_of(True)

    before = await who(made.engine)
    await rotate(login, secrets_manager, made.arn)
    after = await who(made.engine)

    assert before == after == login["username"]
    assert made.password is not None
    assert made.password.current == login["password"]


async def test_without_a_rotating_password_the_old_one_stays_refused(
    login: dict[str, Any], secrets_manager: FakeSecretsManager, engine_of: Any
) -> None:
    """The check the test above relies on: after the rotation the URL's password is refused."""
    made = engine_of(False)
    await who(made.engine)

    await rotate(login, secrets_manager, made.arn)

    with pytest.raises(DBAPIError, match="password authentication failed"):
        await who(made.engine)


def test_settings_without_a_secret_have_no_rotating_password() -> None:
    """A plain database URL: nothing to follow."""
    plain = CloudSettings(database_url=SecretStr("postgresql+asyncpg://u:p@h/d"))

    assert rotating_password(plain, plain) is None


def test_a_refresh_reads_the_secret_again(secrets_manager: FakeSecretsManager) -> None:
    """`refresh` takes the secret's current version."""
    arn = secrets_manager.create({"username": "u", "password": "first"})
    store = SecretsManagerStore(endpoint_url=secrets_manager.endpoint_url)
    password = SecretPassword(arn, store, "first")
    secrets_manager.client().put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": "u", "password": "second"})
    )

    password.refresh()

    assert password.current == "second"

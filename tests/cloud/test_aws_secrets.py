"""Secrets by ARN (issue 18, item 2): the database user and the JWT key from AWS Secrets Manager.

moto's Secrets Manager runs on loopback and is reached over real HTTP by boto3, in this process
(`resolve_secrets`) and from `studylens-cloud` processes as deployed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from cloud.aws_secrets import SecretsManagerStore, region_of
from cloud.db.migrate import alembic_config
from cloud.errors import SecretsUnavailable
from cloud.secrets import jwt_secret, resolve_secrets
from cloud.settings import CloudSettings
from cloud.tokens import decode_access
from tests.cloud.secrets_support import (
    REGION,
    FakeSecretsManager,
    missing_arn,
)
from tests.cloud.support import (
    bearer,
    cloud_env,
    data_of,
    free_port,
    link_device,
    running_cloud,
    session_item,
    sign_in,
    wait_until_ready,
)
from tests.fakes.google import FakeGoogle
from tests.integration.logs_support import LogFiles, clean_env, leaks, logged_process

SPECIAL_PASSWORD = "p@ss:w/rd%"  # noqa: S105 - test-only


def new_key() -> str:
    """A JWT key as `GenerateSecretString` makes it: 64 letters and digits."""
    return secrets.token_hex(32)


def settings_for(fake: FakeSecretsManager, **values: Any) -> CloudSettings:
    """Settings isolated from the machine, with the fake as the Secrets Manager endpoint."""
    return CloudSettings(secrets_endpoint_url=fake.endpoint_url, **values)


def test_rds_managed_secret_and_database_host_make_the_url(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """RDS's master secret (user, password) and `database_host/port/name` make the asyncpg URL.

    The region comes from the ARN (the fake's secrets are not in boto3's default region), and
    the password keeps every character through SQLAlchemy and Alembic's config.
    """
    key = new_key()
    database_arn = secrets_manager.create(
        {"username": "studylens_app", "password": SPECIAL_PASSWORD}
    )
    jwt_arn = secrets_manager.create(key)
    settings = settings_for(
        secrets_manager,
        data_dir=tmp_path / "data",
        database_secret_arn=database_arn,
        database_host="db.internal.example",
        database_port=6543,
        jwt_secret_arn=jwt_arn,
    )

    resolved = resolve_secrets(settings)

    url = make_url(resolved.database_address())
    assert (url.drivername, url.username, url.password) == (
        "postgresql+asyncpg",
        "studylens_app",
        SPECIAL_PASSWORD,
    )
    assert (url.host, url.port, url.database) == ("db.internal.example", 6543, "studylens")
    engine = create_async_engine(resolved.database_address())
    assert engine.url.password == SPECIAL_PASSWORD
    # Alembic's config is a ConfigParser: an unescaped `%` would break interpolation.
    in_alembic = alembic_config(resolved.database_address()).get_main_option("sqlalchemy.url")
    assert in_alembic is not None
    assert make_url(in_alembic).password == SPECIAL_PASSWORD
    assert jwt_secret(resolved) == key
    assert not (tmp_path / "data" / "jwt-secret").exists()
    assert (resolved.database_secret_arn, resolved.jwt_secret_arn) == (None, None)
    assert SPECIAL_PASSWORD not in repr(resolved)
    assert key not in repr(resolved)


def test_host_port_and_name_of_the_secret_win(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
) -> None:
    """A secret that names host, port (as a string too) and dbname is used as it is."""
    arn = secrets_manager.create(
        {
            "engine": "postgres",
            "username": "u",
            "password": "pw",
            "host": "rds.example",
            "port": "5433",
            "dbname": "other",
        }
    )
    settings = settings_for(secrets_manager, database_secret_arn=arn, database_host="ignored")
    url = make_url(resolve_secrets(settings).database_address())
    assert (url.host, url.port, url.database) == ("rds.example", 5433, "other")


def test_aws_region_setting_reaches_a_secret_named_without_an_arn(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
) -> None:
    """`aws_region` is used when set, so a secret's plain name works as well as its ARN."""
    key = new_key()
    arn = secrets_manager.create(key, region="ap-southeast-2")
    name = arn.split(":")[-1].rsplit("-", 1)[0]
    settings = settings_for(secrets_manager, jwt_secret_arn=name, aws_region="ap-southeast-2")
    assert jwt_secret(resolve_secrets(settings)) == key
    assert region_of(arn) == "ap-southeast-2"
    assert region_of(name) is None


def test_settings_without_arns_are_returned_as_they_are(tmp_path: Path) -> None:
    """Without an ARN nothing is read: no endpoint is needed, the settings come back unchanged."""
    settings = CloudSettings(data_dir=tmp_path, secrets_endpoint_url="http://127.0.0.1:9")
    assert resolve_secrets(settings) is settings


def test_both_a_plain_value_and_an_arn_are_refused() -> None:
    """One source per secret: a URL and an ARN (or a key and an ARN) together are refused."""
    with pytest.raises(ValidationError, match="database_url and database_secret_arn"):
        CloudSettings(
            database_url=SecretStr("postgresql+asyncpg://u:p@h/d"),
            database_secret_arn=missing_arn(),
        )
    with pytest.raises(ValidationError, match="jwt_secret and jwt_secret_arn"):
        CloudSettings(jwt_secret=SecretStr(new_key()), jwt_secret_arn=missing_arn())


def test_unresolved_settings_never_fall_back(tmp_path: Path) -> None:
    """Settings naming ARNs used without `resolve_secrets` raise: no SQLite, no new key."""
    settings = CloudSettings(
        data_dir=tmp_path, database_secret_arn=missing_arn(), jwt_secret_arn=missing_arn()
    )
    with pytest.raises(RuntimeError, match="resolve_secrets"):
        settings.database_address()
    with pytest.raises(RuntimeError, match="resolve_secrets"):
        jwt_secret(settings)
    assert not (tmp_path / "jwt-secret").exists()


#: (what, the secret's value (None: no secret made), the setting that names it, the error).
BAD_SECRETS: list[tuple[str, Any, str, str]] = [
    ("unknown ARN", None, "database_secret_arn", "does not exist"),
    ("malformed JSON", '{"username": "u", "password": "VALUE', "database_secret_arn", "JSON"),
    ("not an object", '["VALUE"]', "database_secret_arn", "not a JSON object"),
    ("no password", {"username": "u", "passwd": "VALUE"}, "database_secret_arn", "no password"),
    ("empty user", {"username": "", "password": "VALUE"}, "database_secret_arn", "no username"),
    (
        "bad port",
        {"username": "u", "password": "VALUE", "port": "x"},
        "database_secret_arn",
        "port",
    ),
    ("JWT as JSON", {"key": "VALUE" * 10}, "jwt_secret_arn", "JSON object"),
    ("short JWT key", "VALUE", "jwt_secret_arn", "shorter than 32"),
]


@pytest.mark.parametrize(
    ("what", "value", "setting", "reason"), BAD_SECRETS, ids=[case[0] for case in BAD_SECRETS]
)
def test_bad_secret_is_a_clear_error_naming_the_arn(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    what: str,
    value: Any,
    setting: str,
    reason: str,
) -> None:
    """Each bad secret is `SecretsUnavailable` naming the ARN and the reason, not the value."""
    marker = f"hunter-{secrets.token_hex(8)}"
    if value is None:
        arn = missing_arn()
    else:
        text = value if isinstance(value, str) else json.dumps(value)
        arn = secrets_manager.create(text.replace("VALUE", marker))
    settings = settings_for(secrets_manager, database_host="db", **{setting: arn})
    with pytest.raises(SecretsUnavailable) as caught:
        resolve_secrets(settings)
    message = str(caught.value)
    assert arn in message, what
    assert reason in message, message
    assert marker not in message
    assert caught.value.__cause__ is None or marker not in str(caught.value.__cause__)
    assert caught.value.__context__ is None or marker not in repr(caught.value.__context__)


def test_no_host_anywhere_is_a_clear_error(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
) -> None:
    """RDS's master secret names no host: without `database_host` that is said at startup."""
    arn = secrets_manager.create({"username": "u", "password": "pw-of-nobody"})
    with pytest.raises(SecretsUnavailable, match="database_host is not set") as caught:
        resolve_secrets(settings_for(secrets_manager, database_secret_arn=arn))
    assert arn in str(caught.value)


def test_binary_secret_is_refused(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
) -> None:
    """A secret holding only bytes is not a key or a database user."""
    arn = secrets_manager.create_binary(b"\x00\x01 binary")
    with pytest.raises(SecretsUnavailable, match="binary"):
        resolve_secrets(settings_for(secrets_manager, jwt_secret_arn=arn))


def test_endpoint_down_is_a_clear_error(aws_env: dict[str, str]) -> None:
    """Nothing listening at the endpoint: an error naming the ARN, after botocore's few tries."""
    arn = missing_arn()
    store = SecretsManagerStore(endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SecretsUnavailable, match="cannot be read") as caught:
        store.secret_text(arn)
    assert arn in str(caught.value)


def test_access_denied_names_the_arn_and_the_role(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Credentials whose policy does not grant `GetSecretValue` get a message that says so.

    moto checks IAM policies once told to (`/moto-api/reset-auth`): a user that may only read
    S3 asks for the secret. (moto answers that 403 in XML, which botocore cannot read: the
    mapping goes by the status as well as the code.)
    """
    arn = secrets_manager.create(new_key())
    iam_client = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=secrets_manager.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's test credentials
    )
    user = f"reader-{secrets.token_hex(4)}"
    iam_client.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam_client.put_user_policy(
        UserName=user, PolicyName="s3-only", PolicyDocument=json.dumps(policy)
    )
    access = iam_client.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access["SecretAccessKey"])
    reset = f"{secrets_manager.endpoint_url}/moto-api/reset-auth"
    httpx.post(reset, content=b"0").raise_for_status()
    try:
        with pytest.raises(SecretsUnavailable, match="AccessDeniedException") as caught:
            SecretsManagerStore(endpoint_url=secrets_manager.endpoint_url).secret_text(arn)
    finally:
        httpx.post(reset, content=b"inf").raise_for_status()
    assert arn in str(caught.value)
    assert "GetSecretValue" in str(caught.value)


def test_region_of_reads_the_arn() -> None:
    """The region is the ARN's fourth field; anything else has none."""
    assert region_of(f"arn:aws:secretsmanager:{REGION}:123456789012:secret:x-AbCdEf") == REGION
    assert region_of("arn:aws:s3:::bucket") is None
    assert region_of("plain-name") is None


# --- `studylens-cloud` processes, as deployed ----------------------------------------------------


def arn_env(
    fake: FakeSecretsManager,
    aws: dict[str, str],
    data_dir: Path,
    google: FakeGoogle,
    database_url: str,
    **arns: str,
) -> dict[str, str]:
    """A cloud's environment naming its secrets by ARN only: no database URL, no JWT key.

    The database's host, port and name are settings, as for RDS's master secret.
    """
    url = make_url(database_url)
    settings: dict[str, Any] = {
        "database_host": url.host,
        "database_port": url.port,
        "database_name": url.database,
        "secrets_endpoint_url": fake.endpoint_url,
        **arns,
    }
    env = cloud_env(data_dir, google, None, **settings)
    return env | aws


def master_secret(database_url: str, **extra: str) -> dict[str, str]:
    """What RDS keeps for a managed master user: its name and password (and `extra`)."""
    url = make_url(database_url)
    assert url.username
    assert url.password
    return {"username": url.username, "password": url.password, **extra}


async def test_serve_runs_on_secrets_by_arn_and_processes_share_the_key(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    pg_database_url: str,
    live_google: FakeGoogle,
    tmp_path: Path,
) -> None:
    """Two `serve` processes given only ARNs sign in, link and sync on PostgreSQL.

    The second runs two workers, each reading the secrets itself. Each process has a data dir of
    its own, so the key they share is the secret's, not a file: a token one issued is accepted by
    the other and verifies with the secret's key.
    """
    key = new_key()
    arns = {
        "database_secret_arn": secrets_manager.create(master_secret(pg_database_url)),
        "jwt_secret_arn": secrets_manager.create(key),
    }
    one, other = (
        arn_env(secrets_manager, aws_env, tmp_path / name, live_google, pg_database_url, **arns)
        for name in ("one", "other")
    )
    started = datetime.now(UTC)
    async with (
        running_cloud(one) as [first],
        running_cloud(other, workers=2) as [second],
        httpx.AsyncClient(base_url=first.base_url) as at_first,
        httpx.AsyncClient(base_url=second.base_url) as at_second,
    ):
        assert data_of(await at_first.get("/readyz"))["checks"]["database"] == "ok"
        student = await sign_in(at_first, live_google)
        me = data_of(await at_second.get("/api/me", headers=bearer(student["accessToken"])))
        edge = await link_device(at_second, student)
        batch = {"items": [session_item(started)]}
        stored = data_of(
            await at_first.post("/api/sync/batch", json=batch, headers=bearer(edge["accessToken"]))
        )
    assert me["email"] == "ada@example.com"
    assert stored["stored"] == 1
    claims = decode_access(student["accessToken"], key, issuer="studylens-cloud", now=started)
    assert claims.user_id == me["userId"]
    engine = create_async_engine(pg_database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT count(*) FROM study_sessions"))).scalar()
    finally:
        await engine.dispose()
    assert rows == 1
    for name in ("one", "other"):
        assert not (tmp_path / name / "jwt-secret").exists()
        assert not (tmp_path / name / "cloud.db").exists()


def run_cloud(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`studylens-cloud ARGS` to its end (bounded), with only `env`'s settings."""
    command = [str(Path(sys.executable).parent / "studylens-cloud"), *args]
    return subprocess.run(
        command, env=clean_env(**env), capture_output=True, text=True, timeout=90, check=False
    )


#: (case, the database secret's value: None for none made, the endpoint: None for the fake's).
REFUSALS: list[tuple[str, Any, bool]] = [
    ("unknown ARN", None, True),
    ("malformed JSON", '{"username": "studylens", "password": "VALUE', True),
    ("missing password", {"username": "studylens", "passwd": "VALUE"}, True),
    ("endpoint down", {"username": "studylens", "password": "VALUE"}, False),
]


@pytest.mark.parametrize(("case", "value", "endpoint_up"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_serve_without_its_secret_exits_naming_the_arn(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    pg_database_url: str,
    live_google: FakeGoogle,
    tmp_path: Path,
    case: str,
    value: Any,
    endpoint_up: bool,
) -> None:
    """`serve` whose database secret cannot be had exits 1, naming the ARN, printing no value."""
    marker = f"hunter-{secrets.token_hex(8)}"
    if value is None:
        arn = missing_arn()
    else:
        text_value = value if isinstance(value, str) else json.dumps(value)
        arn = secrets_manager.create(text_value.replace("VALUE", marker))
    key = new_key()
    jwt_arn = secrets_manager.create(key)
    env = arn_env(
        secrets_manager,
        aws_env,
        tmp_path / "cloud",
        live_google,
        pg_database_url,
        database_secret_arn=arn,
        jwt_secret_arn=jwt_arn,
    )
    if not endpoint_up:
        env["STUDYLENS_CLOUD_SECRETS_ENDPOINT_URL"] = f"http://127.0.0.1:{free_port()}"
    finished = await asyncio.to_thread(
        run_cloud, env, "serve", "--host", "127.0.0.1", "--port", str(free_port())
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, (case, output)
    assert arn in finished.stderr, output
    assert marker not in output
    assert key not in output


async def test_config_prints_the_arns_and_reads_no_secret(
    aws_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """`config` shows which secrets are named, fetching none (its endpoint is not even up)."""
    env = aws_env | {
        "STUDYLENS_CLOUD_DATA_DIR": str(tmp_path / "cloud"),
        "STUDYLENS_CLOUD_DATABASE_SECRET_ARN": missing_arn(),
        "STUDYLENS_CLOUD_JWT_SECRET_ARN": missing_arn(),
        "STUDYLENS_CLOUD_SECRETS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    finished = await asyncio.to_thread(run_cloud, env, "config")
    assert finished.returncode == 0, finished.stderr
    shown = json.loads(finished.stdout)
    assert shown["database_secret_arn"] == env["STUDYLENS_CLOUD_DATABASE_SECRET_ARN"]
    assert shown["jwt_secret_arn"] == env["STUDYLENS_CLOUD_JWT_SECRET_ARN"]
    assert (shown["database_url"], shown["jwt_secret"]) == (None, None)


async def test_admin_commands_read_the_secrets_too(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    pg_database_url: str,
    live_google: FakeGoogle,
    tmp_path: Path,
) -> None:
    """`admin stats` given only ARNs works against the secret's database."""
    env = arn_env(
        secrets_manager,
        aws_env,
        tmp_path / "cloud",
        live_google,
        pg_database_url,
        database_secret_arn=secrets_manager.create(master_secret(pg_database_url)),
        jwt_secret_arn=secrets_manager.create(new_key()),
    )
    finished = await asyncio.to_thread(run_cloud, env, "admin", "stats")
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["users"] == 0
    assert not (tmp_path / "cloud" / "cloud.db").exists()


async def test_secret_values_never_reach_the_logs_at_debug(
    secrets_manager: FakeSecretsManager,
    aws_env: dict[str, str],
    pg_database_url: str,
    live_google: FakeGoogle,
    tmp_path: Path,
) -> None:
    """`serve` at DEBUG, secrets by ARN, a sign-in and a sync: no line shows a secret's value.

    The test database's password is also its user's name, so the database secret carries a
    canary: any line that shows the secret's document (botocore's DEBUG lines print response
    bodies) shows the canary. The URL's `user:password@` form is searched for as well.
    """
    key = new_key()
    canary = f"canary-{secrets.token_hex(12)}"
    url = make_url(pg_database_url)
    env = arn_env(
        secrets_manager,
        aws_env,
        tmp_path / "cloud",
        live_google,
        pg_database_url,
        database_secret_arn=secrets_manager.create(
            master_secret(pg_database_url, dbInstanceIdentifier=canary)
        ),
        jwt_secret_arn=secrets_manager.create(key),
    )
    env = clean_env(**env, STUDYLENS_CLOUD_LOG_LEVEL="debug")
    port = free_port()
    logs = LogFiles(tmp_path)
    command = [str(Path(sys.executable).parent / "studylens-cloud"), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    base_url = f"http://127.0.0.1:{port}"
    with logged_process(command, env, logs.new("cloud")) as process:
        await wait_until_ready(base_url, process)
        async with httpx.AsyncClient(base_url=base_url) as client:
            student = await sign_in(client, live_google)
            edge = await link_device(client, student)
            batch = {"items": [session_item(datetime.now(UTC))]}
            answer = await client.post(
                "/api/sync/batch", json=batch, headers=bearer(edge["accessToken"])
            )
            assert data_of(answer)["stored"] == 1
    lines = list(logs.lines())
    assert any("DEBUG" in line for _, line in lines), "the cloud did not log at DEBUG"
    found = leaks(
        {
            "JWT key": {key},
            "database secret": {canary, f"{url.username}:{url.password}@"},
        },
        lines,
    )
    assert found == []

"""AWS Secrets Manager, the one seam: a secret's text by ARN, and what our two secrets must hold.

The real store is boto3's `secretsmanager` client on boto3's credential chain (the instance role
on EC2). Every botocore error, and every secret that is not what it must be, becomes
`SecretsUnavailable` here: the message names the ARN and the reason, never the secret's value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloud.errors import SecretsUnavailable

#: RFC 7518, 3.2: an HS256 key must be at least as long as the hash output (256 bits).
MIN_JWT_KEY_LENGTH = 32


class SecretStore(Protocol):
    """Where secrets are read from, by ARN."""

    def secret_text(self, arn: str) -> str:
        """The secret's current text (`SecretString`); `SecretsUnavailable` if it cannot be read."""
        ...


def region_of(arn: str) -> str | None:
    """The region named in a Secrets Manager ARN (`arn:aws:secretsmanager:REGION:...`)."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager" and parts[3]:
        return parts[3]
    return None


class SecretsManagerStore:
    """The real store: AWS Secrets Manager through boto3 (one client per region)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def secret_text(self, arn: str) -> str:
        """`GetSecretValue` of `arn`'s current version, its errors mapped to ours."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client(arn).get_secret_value(SecretId=arn)
        except ClientError as exc:
            raise SecretsUnavailable(_refusal(arn, exc.response)) from exc
        except BotoCoreError as exc:  # no credentials, endpoint unreachable, timeouts
            raise SecretsUnavailable(f"secret {arn} cannot be read: {exc}") from exc
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise SecretsUnavailable(f"secret {arn} holds binary data, not text")
        return text

    def _client(self, arn: str) -> Any:
        region = self._region or region_of(arn)
        if region is None:
            raise SecretsUnavailable(
                f"secret {arn} is not a Secrets Manager ARN naming its region, "
                "and aws_region is not set"
            )
        if region not in self._clients:
            import boto3
            from botocore.config import Config

            options: dict[str, Any] = {
                "region_name": region,
                # A few quick tries, then a clear error: systemd restarts the unit anyway.
                "config": Config(
                    connect_timeout=5,
                    read_timeout=10,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            }
            if self._endpoint_url:
                options["endpoint_url"] = self._endpoint_url
            self._clients[region] = boto3.client("secretsmanager", **options)
        return self._clients[region]


def _refusal(arn: str, response: Any) -> str:
    code = str(response.get("Error", {}).get("Code", "unknown error"))
    if response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
        # A 403 whose body botocore could not read (a proxy's page, moto's XML) is still a no.
        code = "AccessDeniedException"
    reasons = {
        "ResourceNotFoundException": "does not exist (or has no current version)",
        "AccessDeniedException": "may not be read by these credentials "
        "(the instance role needs secretsmanager:GetSecretValue on it)",
        "DecryptionFailure": "cannot be decrypted with its KMS key by these credentials",
        "InvalidRequestException": "cannot be read now (scheduled for deletion?)",
    }
    return f"secret {arn} {reasons.get(code, 'cannot be read')} ({code})"


@dataclass(frozen=True)
class DatabaseSecret:
    """The database user's secret: RDS's managed master secret has only the first two."""

    username: str
    password: str = field(repr=False)
    host: str | None = None
    port: int | None = None
    dbname: str | None = None


def database_secret(text: str, arn: str) -> DatabaseSecret:
    """Read the JSON of a database secret (`username`, `password`; `host`, `port`, `dbname`)."""
    values = _json_object(text, arn)
    username, password = _required(values, "username", arn), _required(values, "password", arn)
    host, dbname = values.get("host"), values.get("dbname")
    for name, value in (("host", host), ("dbname", dbname)):
        if value is not None and (not isinstance(value, str) or not value):
            raise SecretsUnavailable(f"database secret {arn}: its {name} is not a non-empty string")
    return DatabaseSecret(
        username=username,
        password=password,
        host=host,
        port=_port(values.get("port"), arn),
        dbname=dbname,
    )


def jwt_key(text: str, arn: str) -> str:
    """The HMAC key of access tokens: the secret's whole text, as `GenerateSecretString` makes it.

    A JSON object is refused: it is another kind of secret (most likely the database's, named
    by mistake), and its JSON would quietly become the key.
    """
    key = text.strip()
    if key.startswith("{"):
        try:
            parsed = json.loads(key)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            raise SecretsUnavailable(
                f"JWT secret {arn} holds a JSON object; it must hold the key itself as plain text"
            )
    if len(key) < MIN_JWT_KEY_LENGTH:
        raise SecretsUnavailable(
            f"JWT secret {arn} is shorter than {MIN_JWT_KEY_LENGTH} characters (RFC 7518, 3.2)"
        )
    return key


def _json_object(text: str, arn: str) -> dict[str, Any]:
    try:
        values = json.loads(text)
    except ValueError:
        # Not chained: a JSONDecodeError keeps the whole document (the secret) in `.doc`.
        values = None
    if not isinstance(values, dict):
        raise SecretsUnavailable(f"database secret {arn} is not a JSON object")
    return values


def _required(values: dict[str, Any], name: str, arn: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise SecretsUnavailable(f"database secret {arn} has no {name} (a non-empty string)")
    return value


def _port(value: Any, arn: str) -> int | None:
    if value is None:
        return None
    # RDS writes the port as a number; secrets made by hand often hold it as a string.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise SecretsUnavailable(f"database secret {arn}: its port is not a number in 1..65535")
    return value

"""AWS Secrets Manager for cloud tests: moto's server on loopback, and secrets made in it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

#: Not the default region: a client that ignored the ARN's region would not find the secrets.
REGION = "eu-central-1"
#: moto accepts any credentials until told to check them (see `test_access_denied_...`).
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@dataclass
class FakeSecretsManager:
    """moto's Secrets Manager on a loopback port, and a boto3 client to fill it."""

    endpoint_url: str

    def client(self, region: str = REGION) -> Any:
        """A Secrets Manager client of `region` on the fake."""
        return boto3.client(
            "secretsmanager",
            region_name=region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's test credentials
        )

    def create(self, value: str | dict[str, Any], *, region: str = REGION) -> str:
        """A new secret holding `value` (a dict as JSON); its ARN."""
        text = value if isinstance(value, str) else json.dumps(value)
        answer = self.client(region).create_secret(
            Name=f"studylens-test-{uuid.uuid4().hex[:12]}", SecretString=text
        )
        arn: str = answer["ARN"]
        return arn

    def create_binary(self, value: bytes) -> str:
        """A new secret holding bytes only; its ARN."""
        answer = self.client().create_secret(
            Name=f"studylens-test-{uuid.uuid4().hex[:12]}", SecretBinary=value
        )
        arn: str = answer["ARN"]
        return arn


def missing_arn() -> str:
    """The ARN of a secret nobody made (well formed, in the test region)."""
    return (
        f"arn:aws:secretsmanager:{REGION}:123456789012:secret:studylens-none-{uuid.uuid4().hex[:6]}"
    )


def aws_environment(**values: str) -> dict[str, str]:
    """Variables that keep boto3 to moto's credentials, off this machine's AWS files and IMDS."""
    return {
        **TEST_CREDENTIALS,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        **values,
    }


@pytest.fixture(scope="session")
def secrets_manager() -> Iterator[FakeSecretsManager]:
    """The fake in a thread of the test process, on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield FakeSecretsManager(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """boto3 in this process on moto's credentials only; the variables, for child processes."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    values = aws_environment()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values

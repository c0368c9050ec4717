"""AWS Secrets Manager for cloud tests: moto's server on loopback, and secrets made in it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

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

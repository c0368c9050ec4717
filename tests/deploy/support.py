"""What the deploy tests share: where things are, and the template as CloudFormation reads it."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy" / "aws"
TEMPLATE = DEPLOY_DIR / "studylens-cloud.yaml"
INSTALL_SCRIPT = DEPLOY_DIR / "install-release.sh"
BUNDLE_SCRIPT = DEPLOY_DIR / "bundle.sh"
CLOUD_UNIT = REPO_ROOT / "systemd" / "studylens-cloud.service"
VENV_BIN = Path(sys.executable).parent


@cache
def template() -> dict[str, Any]:
    """The template with its short-form tags (`!Ref`, `!Sub`, ...) as their long forms."""
    decoded, problems = decode(str(TEMPLATE))
    assert not problems, f"{TEMPLATE} does not parse: {problems}"
    assert isinstance(decoded, dict)
    return decoded


def resource(logical_id: str) -> dict[str, Any]:
    """One resource of the template (type, properties, policies, metadata)."""
    found: dict[str, Any] = template()["Resources"][logical_id]
    return found


def properties(logical_id: str) -> dict[str, Any]:
    """The properties of one resource of the template."""
    found: dict[str, Any] = resource(logical_id)["Properties"]
    return found


def embedded_user_data() -> tuple[Any, str]:
    """The launch template's user data: the `Fn::Sub` of the stack's values and the script copy."""
    user_data = properties("LaunchTemplate")["LaunchTemplateData"]["UserData"]
    separator, (values, script) = user_data["Fn::Base64"]["Fn::Join"]
    assert separator == ""
    return values, str(script)

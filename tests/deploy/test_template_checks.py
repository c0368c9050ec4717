"""The CloudFormation template passes cfn-lint and checkov and carries the install script."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.aws.embed_user_data import EmbedError, embed
from tests.deploy.support import (
    INSTALL_SCRIPT,
    REPO_ROOT,
    TEMPLATE,
    VENV_BIN,
    embedded_user_data,
    template,
)

CHECKOV = REPO_ROOT / ".tools" / "checkov" / "bin" / "checkov"
JSON = ("--output", "json")


def test_cfn_lint_reports_nothing() -> None:
    """cfn-lint finds no error, no warning and no informational finding."""
    cfn_lint = VENV_BIN / "cfn-lint"
    assert cfn_lint.is_file(), f"{cfn_lint} missing: install the project with .[dev]"
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def run_checkov(path: Path) -> dict[str, Any]:
    """Run checkov offline on one template; its JSON report."""
    if not CHECKOV.is_file():
        pytest.fail(
            f"checkov is not installed at {CHECKOV}: run scripts/tools.sh (it keeps checkov in a "
            "virtualenv of its own, as it pins older boto3)."
        )
    result = subprocess.run(
        # --skip-download: no call to Prisma Cloud for guidelines; the checks are built in.
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "--skip-download", *JSON],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), f"checkov failed to run:\n{result.stderr[-3000:]}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    assert report["summary"]["passed"] > 40, f"checkov ran few checks: {report['summary']}"
    return report


def suppressions() -> dict[tuple[str, str], str]:
    """Every checkov suppression in the template: (check id, resource) -> its reason."""
    found = {}
    for logical_id, body in template()["Resources"].items():
        for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found[(skip["id"], f"{body['Type']}.{logical_id}")] = skip.get("comment", "")
    return found


def checks(report: dict[str, Any], outcome: str) -> set[tuple[str, str]]:
    """(check id, resource) of the report's `failed_checks` or `skipped_checks`."""
    return {(c["check_id"], c["resource"]) for c in report["results"][outcome]}


def test_checkov_fails_nothing_but_what_is_suppressed_with_a_reason(tmp_path: Path) -> None:
    """No failed check; each suppression has a reason and is needed.

    Without the template's suppressions, exactly the suppressed checks fail.
    """
    report = run_checkov(TEMPLATE)
    named = suppressions()
    assert checks(report, "failed_checks") == set()
    assert checks(report, "skipped_checks") == set(named)
    short = {key: reason for key, reason in named.items() if len(reason) < 40}
    assert short == {}, "every suppression needs a reason"

    bare = json.loads(json.dumps(template()))
    for body in bare["Resources"].values():
        body.get("Metadata", {}).pop("checkov", None)
    unsuppressed = tmp_path / "studylens-cloud.json"
    unsuppressed.write_text(json.dumps(bare))
    assert checks(run_checkov(unsuppressed), "failed_checks") == set(named)


def test_user_data_carries_the_install_script_byte_for_byte() -> None:
    """The template's copy of install-release.sh is the file (embed_user_data.py refreshes it)."""
    _, script = embedded_user_data()
    assert script == INSTALL_SCRIPT.read_text(), (
        "the user data differs from deploy/aws/install-release.sh: "
        "run .venv/bin/python deploy/aws/embed_user_data.py"
    )
    assert embed(TEMPLATE.read_text(), INSTALL_SCRIPT.read_text()) == TEMPLATE.read_text()


def test_user_data_fits_ec2s_limit() -> None:
    """EC2 takes at most 16 KB of user data before base64; the stack's values add under 2 KB."""
    values, script = embedded_user_data()
    wrapper = str(values["Fn::Sub"][0])
    assert len(script.encode()) + len(wrapper.encode()) + 2048 < 16 * 1024


def test_embedding_replaces_only_the_block() -> None:
    """embed() swaps the block after the marker and keeps every other line."""
    text = (
        "a:\n  b: 1\n  c:\n    # deploy/aws/install-release.sh, verbatim:\n    - |\n"
        "      old line\n\n      old tail\n\nd: 2\n"
    )
    assert embed(text, "#!/bin/sh\n\necho new\n") == (
        "a:\n  b: 1\n  c:\n    # deploy/aws/install-release.sh, verbatim:\n    - |\n"
        "      #!/bin/sh\n\n      echo new\n\nd: 2\n"
    )
    with pytest.raises(EmbedError):
        embed(text, "no final newline")
    with pytest.raises(EmbedError):
        embed(text.replace("verbatim", "elsewhere"), "x\n")

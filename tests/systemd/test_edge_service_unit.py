"""Checks for the hardened systemd unit in systemd/studylens-edge.service."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UNIT_NAME = "studylens-edge.service"
UNIT_SOURCE = REPO_ROOT / "systemd" / UNIT_NAME
INSTALLED_BINARY = "/opt/studylens/venv/bin/studylens-edge"
MAX_EXPOSURE = 2.0
EXPOSURE_RE = re.compile(r"Overall exposure level for \S+:\s*(\d+(?:\.\d+)?)")

UnitDirectives = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> UnitDirectives:
    """Parse unit file text into section -> key -> values (keys may repeat)."""
    sections: UnitDirectives = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"unparsable unit line: {raw!r}"
        assert current is not None, f"directive outside a section: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service_value(key: str) -> str:
    """Return the effective (last) value of a [Service] key in the unit."""
    values = parse_unit(UNIT_SOURCE.read_text())["Service"].get(key)
    assert values, f"{key}= is not set in [Service] of {UNIT_SOURCE}"
    return values[-1]


@pytest.fixture
def systemd_analyze() -> str:
    """Return the path of systemd-analyze, failing clearly if it is missing."""
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail(
            "systemd-analyze not found on PATH. It comes from the `systemd` "
            "Debian package, which the project's test command installs "
            "(apt-get install -y systemd); install it and re-run."
        )
    return path


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """Copy the unit to tmp_path with ExecStart pointing at a real binary."""
    binary = Path(sys.executable).parent / "studylens-edge"
    if not binary.is_file():
        pytest.fail(
            f"{binary} does not exist: pip-install the package into this "
            "environment so its studylens-edge console script is present."
        )
    text = UNIT_SOURCE.read_text()
    assert INSTALLED_BINARY in text, f"{INSTALLED_BINARY} not in {UNIT_SOURCE}"
    copy = tmp_path / UNIT_NAME
    copy.write_text(text.replace(INSTALLED_BINARY, str(binary)))
    return copy


def run_analyze(analyze: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze with args, capturing its output as text."""
    return subprocess.run(
        [analyze, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_verify_reports_no_problems(systemd_analyze: str, unit_copy: Path) -> None:
    """Check that systemd-analyze verify accepts the unit without warnings."""
    result = run_analyze(systemd_analyze, ["verify", str(unit_copy)], unit_copy.parent)
    output = result.stdout + result.stderr
    about_unit = [line for line in output.splitlines() if UNIT_NAME in line]
    assert result.returncode == 0, f"verify exited {result.returncode}:\n{output}"
    assert about_unit == [], "verify complained about the unit:\n" + "\n".join(about_unit)


def test_security_exposure_is_low(systemd_analyze: str, unit_copy: Path) -> None:
    """Check that the offline security exposure score is at most 2.0."""
    result = run_analyze(
        systemd_analyze,
        ["security", "--offline=true", "--no-pager", str(unit_copy)],
        unit_copy.parent,
    )
    output = result.stdout + result.stderr
    match = EXPOSURE_RE.search(output)
    if match is None:
        pytest.fail(f"no 'Overall exposure level' line in output:\n{output}")
    exposure = float(match.group(1))
    assert exposure <= MAX_EXPOSURE, f"exposure {exposure} > {MAX_EXPOSURE}:\n{output}"


def test_runs_as_dedicated_user() -> None:
    """Check that the daemon runs as the static studylens user."""
    assert service_value("User") == "studylens"


def test_keeps_data_in_state_directory() -> None:
    """Check that systemd provides /var/lib/studylens as the state directory."""
    assert service_value("StateDirectory") == "studylens"


def test_restarts_on_failure() -> None:
    """Check that systemd restarts the daemon when it fails."""
    assert service_value("Restart") == "on-failure"

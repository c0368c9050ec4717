"""Checks for the hardened systemd units of the edge daemon and the cloud API."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Each unit's console script and state directory.
UNITS = {
    "studylens-edge.service": ("studylens-edge", "studylens"),
    "studylens-cloud.service": ("studylens-cloud", "studylens-cloud"),
}
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


@pytest.fixture(params=sorted(UNITS))
def unit_name(request: pytest.FixtureRequest) -> str:
    """Each unit in turn."""
    name: str = request.param
    return name


def unit_source(unit_name: str) -> Path:
    """The unit file in the repository."""
    return REPO_ROOT / "systemd" / unit_name


def service_value(unit_name: str, key: str) -> str:
    """Return the effective (last) value of a [Service] key in the unit."""
    source = unit_source(unit_name)
    values = parse_unit(source.read_text())["Service"].get(key)
    assert values, f"{key}= is not set in [Service] of {source}"
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
def unit_copy(tmp_path: Path, unit_name: str) -> Path:
    """Copy the unit to tmp_path with ExecStart pointing at a real binary."""
    script = UNITS[unit_name][0]
    installed = f"/opt/studylens/venv/bin/{script}"
    binary = Path(sys.executable).parent / script
    if not binary.is_file():
        pytest.fail(
            f"{binary} does not exist: pip-install the package into this "
            "environment so its studylens-edge console script is present."
        )
    text = unit_source(unit_name).read_text()
    assert installed in text, f"{installed} not in {unit_name}"
    copy = tmp_path / unit_name
    copy.write_text(text.replace(installed, str(binary)))
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
    about_unit = [line for line in output.splitlines() if unit_copy.name in line]
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


def test_runs_as_dedicated_user(unit_name: str) -> None:
    """Check that the service runs as the static studylens user."""
    assert service_value(unit_name, "User") == "studylens"


def test_keeps_data_in_state_directory(unit_name: str) -> None:
    """Check that systemd provides the service's own state directory under /var/lib."""
    assert service_value(unit_name, "StateDirectory") == UNITS[unit_name][1]


def test_restarts_on_failure(unit_name: str) -> None:
    """Check that systemd restarts the service when it fails."""
    assert service_value(unit_name, "Restart") == "on-failure"

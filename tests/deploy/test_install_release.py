"""The user data's install script run on this machine, without AWS, against a real release.

`scripts/release.sh` runs in a copy of the checkout (so the repository's dist/ is not touched)
and makes the release tarball (deploy/aws/bundle.sh's format). The script then installs it under
a temporary root prefix with the overrides its header documents: the local tarball instead of
S3, and no dnf, useradd, systemctl or cfn-signal. The virtualenv it makes is a fresh one (its
dependencies from the package registry, pinned by the release's constraints.txt).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.support import CLOUD_UNIT, INSTALL_SCRIPT, REPO_ROOT

STACK_VALUES = {
    "STUDYLENS_AWS_REGION": "eu-central-1",
    "STUDYLENS_LOG_GROUP": "studylens-LogGroup-ABC123",
    "STUDYLENS_CLOUD_DATABASE_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-0a1b2c-XyZ123"
    ),
    "STUDYLENS_CLOUD_DATABASE_HOST": "studylens-db.abc.eu-central-1.rds.amazonaws.com",
    "STUDYLENS_CLOUD_DATABASE_PORT": "5432",
    "STUDYLENS_CLOUD_DATABASE_NAME": "studylens",
    "STUDYLENS_CLOUD_JWT_SECRET_ARN": (
        "arn:aws:secretsmanager:eu-central-1:123456789012:secret:JwtSecret-AbCdEf"
    ),
    "STUDYLENS_CLOUD_S3_BUCKET": "studylens-imagebucket-1x2y3z",
    "STUDYLENS_CLOUD_PUBLIC_URL": "https://api.example.com",
    "STUDYLENS_CLOUD_GOOGLE_CLIENT_IDS": "1-a.apps.googleusercontent.com",
    "STUDYLENS_CLOUD_WORKERS": "2",
}
SKIP_SYSTEM = "packages,user,services,signal"
GIT_LISTED = ("--cached", "--others", "--exclude-standard")


@dataclass(frozen=True)
class Installed:
    """One run of the install script: its root prefix and the release it installed."""

    root: Path
    version: str
    tarball: Path

    def path(self, absolute: str) -> Path:
        """Where an absolute path of the instance lies under the prefix."""
        return self.root / absolute.lstrip("/")


def clean_environment() -> dict[str, str]:
    """The test process's environment without any StudyLens or virtualenv variable."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STUDYLENS_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }


def copy_checkout(destination: Path) -> None:
    """The files git tracks or would add, as a release machine's clone has them."""
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-z", *GIT_LISTED],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    for name in filter(None, (raw.decode() for raw in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)


def run_install(root: Path, tarball: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run install-release.sh under `root` with the overrides for this machine."""
    env = clean_environment() | STACK_VALUES | extra
    env |= {
        "STUDYLENS_ROOT": str(root),
        "STUDYLENS_RELEASE_FILE": str(tarball),
        "STUDYLENS_PYTHON": sys.executable,
        "STUDYLENS_SKIP": SKIP_SYSTEM,
    }
    return subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release tarball scripts/release.sh makes of this checkout."""
    checkout = tmp_path_factory.mktemp("checkout")
    copy_checkout(checkout)
    made = subprocess.run(
        ["bash", str(checkout / "scripts" / "release.sh")],
        cwd=checkout,
        env=clean_environment() | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    tarball = Path(made.stdout.split()[-1])
    assert tarball.name.endswith(".tar.gz"), made.stdout
    return tarball


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, release: Path) -> Installed:
    """The release installed under a fresh root prefix."""
    root = tmp_path_factory.mktemp("root")
    done = run_install(root, release)
    assert done.returncode == 0, f"install failed:\n{done.stdout}\n{done.stderr[-5000:]}"
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    return Installed(root=root, version=version, tarball=release)


def service_values(unit_text: str) -> dict[str, list[str]]:
    """The [Service] directives of a unit (keys may repeat)."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in unit_text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Service" and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def installed_unit(installed: Installed) -> dict[str, list[str]]:
    """The installed unit's [Service] directives."""
    unit = installed.path("/etc/systemd/system/studylens-cloud.service")
    return service_values(unit.read_text())


def test_cli_of_the_installed_wheel_runs(installed: Installed) -> None:
    """The unit's ExecStart binary exists under the prefix and `studylens-cloud --help` works."""
    (exec_start,) = installed_unit(installed)["ExecStart"]
    binary = installed.path(exec_start.split()[0])
    assert binary.is_file()
    assert binary == installed.path("/opt/studylens/venv/bin/studylens-cloud")
    shown = subprocess.run(
        [str(binary), "--help"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "serve" in shown.stdout
    assert "migrate" in shown.stdout


def test_virtualenv_holds_exactly_that_wheel(installed: Installed) -> None:
    """A fresh virtualenv (no system packages) with the release's wheel, not this checkout."""
    venv = installed.path("/opt/studylens/venv")
    config = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in config
    wheel = installed.path(
        f"/opt/studylens/releases/studylens-{installed.version}-py3-none-any.whl"
    )
    with tarfile.open(installed.tarball) as bundle:
        assert bundle.extractfile(wheel.name).read() == wheel.read_bytes()  # type: ignore[union-attr]
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import cloud, importlib.metadata as m; "
            "print(m.version('studylens')); print(cloud.__file__)",
        ],
        env=clean_environment(),
        cwd=installed.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    version, module = where.stdout.split()
    assert version == installed.version
    assert Path(module).is_relative_to(venv)


def test_environment_file_is_where_the_unit_reads_it(installed: Installed) -> None:
    """EnvironmentFile= of the unit: 0600, the stack's values, JSON logs, the API's port."""
    (environment_file,) = installed_unit(installed)["EnvironmentFile"]
    path = installed.path(environment_file.removeprefix("-"))
    assert path == installed.path("/etc/studylens/cloud.env")
    assert path.stat().st_mode & 0o777 == 0o600
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    values = dict(line.split("=", 1) for line in lines)
    expected = {k: v for k, v in STACK_VALUES.items() if k.startswith("STUDYLENS_CLOUD_")}
    assert {k: values[k] for k in expected} == expected
    assert values["STUDYLENS_CLOUD_LOG_FORMAT"] == "json"
    assert values["STUDYLENS_CLOUD_PORT"] == "8080"  # the target group's port
    assert values["STUDYLENS_CLOUD_AWS_REGION"] == STACK_VALUES["STUDYLENS_AWS_REGION"]
    assert values["STUDYLENS_CLOUD_S3_REGION"] == STACK_VALUES["STUDYLENS_AWS_REGION"]
    assert values["FORWARDED_ALLOW_IPS"] == "*"
    assert "STUDYLENS_CLOUD_DATABASE_URL" not in values
    assert "STUDYLENS_CLOUD_JWT_SECRET" not in values


def test_installed_api_accepts_every_setting_of_the_file(installed: Installed) -> None:
    """`studylens-cloud config` with the file's variables (its settings forbid unknown names)."""
    path = installed.path("/etc/studylens/cloud.env")
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    env = clean_environment() | dict(line.split("=", 1) for line in lines)
    env["XDG_CONFIG_HOME"] = str(installed.path("/etc"))  # as the unit sets it
    shown = subprocess.run(
        [str(installed.path("/opt/studylens/venv/bin/studylens-cloud")), "config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    effective = json.loads(shown.stdout)
    assert effective["log_format"] == "json"
    assert effective["database_secret_arn"] == STACK_VALUES["STUDYLENS_CLOUD_DATABASE_SECRET_ARN"]
    assert effective["jwt_secret_arn"] == STACK_VALUES["STUDYLENS_CLOUD_JWT_SECRET_ARN"]
    assert effective["s3_bucket"] == STACK_VALUES["STUDYLENS_CLOUD_S3_BUCKET"]
    assert effective["workers"] == 2


def test_unit_is_the_releases_with_the_log_drop_in(installed: Installed) -> None:
    """The unit is systemd/'s byte for byte; its output goes to the file the agent ships."""
    unit = installed.path("/etc/systemd/system/studylens-cloud.service")
    assert unit.read_bytes() == CLOUD_UNIT.read_bytes()
    drop_in = installed.path("/etc/systemd/system/studylens-cloud.service.d/cloudwatch-logs.conf")
    directives = service_values(drop_in.read_text())
    (output,) = directives["StandardOutput"]
    log_file = output.removeprefix("append:")
    assert directives["StandardError"] == ["inherit"]
    assert installed.path(log_file).parent.is_dir()
    agent = json.loads(
        installed.path("/opt/aws/amazon-cloudwatch-agent/etc/studylens-cloud.json").read_text()
    )
    (shipped,) = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert shipped["file_path"] == log_file
    assert shipped["log_group_name"] == STACK_VALUES["STUDYLENS_LOG_GROUP"]
    rotation = installed.path("/etc/logrotate.d/studylens-cloud").read_text()
    assert rotation.startswith(log_file + " {")
    assert "copytruncate" in rotation  # systemd holds the file open


def tampered(release: Path, directory: Path, change: str) -> Path:
    """A copy of the release with one change.

    `altered`: a file its sums do not match; `two-wheels`: a second wheel, not in the sums
    (which only cover the files they list), so the count of wheels must refuse it.
    """
    copy = directory / f"{change}.tar.gz"
    with tarfile.open(release) as source, tarfile.open(copy, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            body = data.read()
            if change == "altered" and member.name.endswith(".service"):
                body += b"# changed\n"
            member.size = len(body)
            target.addfile(member, io.BytesIO(body))
            if change == "two-wheels" and member.name.endswith(".whl"):
                member.name = member.name.replace("studylens-", "studylens-9", 1)
                target.addfile(member, io.BytesIO(body))
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [("altered", r"FAILED|did NOT match"), ("two-wheels", r"expected exactly one studylens wheel")],
)
def test_refuses_a_release_that_is_not_what_was_built(
    release: Path, tmp_path: Path, change: str, message: str
) -> None:
    """A file changed after its checksum, or a second wheel: nothing installed, exit non-zero."""
    done = run_install(tmp_path / "root", tampered(release, tmp_path, change))
    assert done.returncode != 0
    assert re.search(message, done.stderr), done.stderr
    assert not (tmp_path / "root" / "opt" / "studylens" / "venv").exists()


def test_refuses_a_value_the_environment_file_cannot_hold(release: Path, tmp_path: Path) -> None:
    """A stack value with a space (or quote, backslash, $) is refused before anything installs."""
    done = run_install(
        tmp_path / "root", release, STUDYLENS_CLOUD_PUBLIC_URL="https://api.example.com x"
    )
    assert done.returncode != 0
    assert "STUDYLENS_CLOUD_PUBLIC_URL holds whitespace" in done.stderr
    assert not (tmp_path / "root" / "etc" / "studylens" / "cloud.env").exists()
    assert not (tmp_path / "root" / "opt" / "studylens" / "venv").exists()

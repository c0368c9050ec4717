"""`scripts/release.sh` (issue 18, item 3): the wheel the template installs, and its tarball.

The tarball's format is deploy/aws/bundle.sh's (tests/deploy check what the installer reads);
here: that it holds the very wheel built, the unit, and sums that verify.

The script runs in a copy of the checkout, as a release machine would have it; the wheel is then
installed into a fresh virtualenv (its dependencies from the package registry) and run from
outside any source tree.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from cloud.db.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("cloud", "edge", "shared")
UNIT = "systemd/studylens-cloud.service"


@dataclass(frozen=True)
class Release:
    """What one run of the script made, in a copy of the checkout."""

    checkout: Path
    version: str
    wheel: Path
    tarball: Path


def copy_checkout(destination: Path) -> None:
    """The files git tracks or would add (what a fresh clone plus work in progress holds)."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (raw.decode() for raw in listed)):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)


def product_files(checkout: Path) -> set[str]:
    """Every file of the product packages, as the wheel must name it."""
    return {
        path.relative_to(checkout).as_posix()
        for package in PRODUCT
        for path in (checkout / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Release:
    """`scripts/release.sh` run once in a copy of the checkout (no .git in it)."""
    checkout = tmp_path_factory.mktemp("checkout")
    copy_checkout(checkout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYLENS_")}
    finished = subprocess.run(
        ["bash", str(checkout / "scripts" / "release.sh")],
        cwd=checkout,
        env=env | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    wheel, tarball = (Path(line) for line in finished.stdout.splitlines())
    with (checkout / "pyproject.toml").open("rb") as handle:
        version = tomllib.load(handle)["project"]["version"]
    return Release(checkout, version, wheel, tarball)


def test_wheel_carries_the_version_of_pyproject(release: Release) -> None:
    """The wheel is in dist/, named and stamped with pyproject.toml's version."""
    assert (
        release.wheel == release.checkout / "dist" / f"studylens-{release.version}-py3-none-any.whl"
    )
    with zipfile.ZipFile(release.wheel) as wheel:
        metadata = wheel.read(f"studylens-{release.version}.dist-info/METADATA").decode()
    assert f"\nVersion: {release.version}\n" in metadata


def test_wheel_holds_every_file_of_the_product(release: Release) -> None:
    """Modules and data alike: migrations, the device page, Alembic's template, dashboard assets."""
    with zipfile.ZipFile(release.wheel) as wheel:
        names = set(wheel.namelist())
    expected = product_files(release.checkout)
    assert {
        "cloud/migrations/versions/0001_initial_schema.py",
        "cloud/migrations/script.py.mako",
        "cloud/api/pages/device.html",
        "shared/schemas.py",
        "edge/dashboard/static/app.js",
    } <= expected
    assert sorted(expected - names) == []


def test_tarball_holds_that_wheel_and_the_unit_checked_by_their_sums(release: Release) -> None:
    """The bundle: the same wheel (the only one), the unit, SHA256SUMS of all the rest."""
    assert (
        release.tarball == release.checkout / "dist" / f"studylens-cloud-{release.version}.tar.gz"
    )
    with tarfile.open(release.tarball) as archive:
        files = {
            Path(member.name).as_posix().removeprefix("./"): archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }
    assert [name for name in files if name.endswith(".whl")] == [release.wheel.name]
    assert files[release.wheel.name] == release.wheel.read_bytes()
    assert files["studylens-cloud.service"] == (ROOT / UNIT).read_bytes()
    sums = {}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    assert set(sums) == set(files) - {"SHA256SUMS"}
    assert all(hashlib.sha256(files[name]).hexdigest() == sums[name] for name in sums)


@pytest.mark.timeout(300)
def test_installed_wheel_runs_outside_the_source_tree(release: Release, tmp_path: Path) -> None:
    """`pip install WHEEL[cloud]` in a fresh virtualenv; `--help` and `migrate` work from /tmp.

    The checkout is not on the path: the code and data run are the wheel's.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STUDYLENS_", "VIRTUAL_ENV", "PYTHON")) and k != "STATE_DIRECTORY"
    }
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"{release.wheel}[cloud]"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*command: str) -> str:
        finished = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert finished.returncode == 0, finished.stderr
        return finished.stdout

    where = run(str(venv / "bin" / "python"), "-c", "import cloud; print(cloud.__file__)")
    assert Path(where.strip()).is_relative_to(venv)
    assert "migrate" in run(str(venv / "bin" / "studylens-cloud"), "--help")
    database = tmp_path / "x.db"
    url = f"sqlite+aiosqlite:///{database}"
    migrated = run(str(venv / "bin" / "studylens-cloud"), "migrate", "--database-url", url)
    assert "newest schema" in migrated
    with sqlite3.connect(database) as connection:
        versions = [
            row["version_num"]
            for row in rows_of(connection, "SELECT version_num FROM alembic_version")
        ]
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert versions == [head]


def rows_of(connection: sqlite3.Connection, query: str) -> list[sqlite3.Row]:
    """The rows of `query`, by column name."""
    connection.row_factory = sqlite3.Row
    return connection.execute(query).fetchall()

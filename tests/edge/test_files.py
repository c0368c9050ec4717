"""The data dir is the student's alone: folders 0700, files 0600, whatever the umask.

Tests run in one process, so each sets umask 022 (a shell's usual default) itself and restores
the old one: nothing here relies on the CLI's umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from edge.cli import main
from edge.files import open_private, private_dir, tighten_tree
from edge.store import open_database
from edge.sync.credentials import Credentials, CredentialStore
from edge.tls import ensure_certificate
from edge.voice.recording import Recorder
from tests.fakes import images
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import StartApp, upload


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Run the test under umask 022, as a daemon started from a shell would be."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def not_private(root: Path) -> dict[str, str]:
    """Every path under `root`, itself included, that is not 0700 (folder) or 0600 (file)."""
    found: dict[str, str] = {}
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found[str(path.relative_to(root))] = oct(mode)
    return found


def mode_of(path: Path) -> int:
    """The permission bits of a path."""
    return stat.S_IMODE(path.stat().st_mode)


def credentials() -> Credentials:
    """Some cloud credentials."""
    now = datetime.now(UTC)
    return Credentials(
        cloud_url="https://cloud.example",
        user_id="u",
        device_id="d",
        access_token="a",  # noqa: S106 - not a real token
        access_expires_at=now + timedelta(minutes=15),
        refresh_token="r",  # noqa: S106 - not a real token
        refresh_expires_at=now + timedelta(days=30),
        linked_at=now,
    )


# --- the running daemon ---------------------------------------------------------------------


async def test_a_daemon_under_umask_022_writes_only_private_files(
    loose_umask: None, start_app: StartApp, openai_peer: FakeOpenAI, data_dir: Path
) -> None:
    """Database, its WAL and shared memory, TLS key and certificate, an original: all private."""
    client = await start_app(
        tls=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
    )
    data = await upload(client, images.jpeg())

    names = {path.name for path in data_dir.rglob("*")}  # noqa: ASYNC240 - a test's few files
    expected = {"studylens.db-wal", "studylens.db-shm", "tls-key.pem", "tls-cert.pem"}
    assert expected | {data["imageKey"]} <= names, names
    assert not_private(data_dir) == {}


async def test_a_looser_data_dir_is_tightened_on_start(
    loose_umask: None, start_app: StartApp, data_dir: Path
) -> None:
    """A 0755 data dir with a 0644 database and 0644 originals (an older version's) is fixed."""
    folder = data_dir / "images" / "ab" / "cd"
    folder.mkdir(parents=True, mode=0o755)
    sqlite3.connect(data_dir / "studylens.db").close()
    (folder / f"{'ab' + 'cd' + '0' * 60}.jpg").write_bytes(images.jpeg())
    (data_dir / "cloud-link.json").write_text(credentials().model_dump_json())
    for path in [data_dir, *data_dir.rglob("*")]:  # noqa: ASYNC240 - a test's few files
        path.chmod(0o755 if path.is_dir() else 0o644)

    await start_app()

    assert not_private(data_dir) == {}


# --- each writer ----------------------------------------------------------------------------


def test_a_new_database_is_private_from_its_first_byte(loose_umask: None, tmp_path: Path) -> None:
    """The CLI's first `pair` makes the data dir 0700 and the database (and its WAL) 0600."""
    data_dir = tmp_path / "data"
    db = open_database(data_dir / "studylens.db")
    try:
        db.execute("INSERT INTO topics (name) VALUES ('Astrophysics')")
        assert not_private(data_dir) == {}
    finally:
        db.close()


def test_opening_a_looser_database_tightens_it(loose_umask: None, tmp_path: Path) -> None:
    """An existing 0644 database in a 0755 folder is 0600 in 0700 once opened."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    sqlite3.connect(data_dir / "studylens.db").close()
    (data_dir / "studylens.db").chmod(0o644)

    open_database(data_dir / "studylens.db").close()

    assert (mode_of(data_dir), mode_of(data_dir / "studylens.db")) == (0o700, 0o600)


def test_tls_files_are_private(loose_umask: None, tmp_path: Path) -> None:
    """The TLS key and certificate are 0600, their folder 0700."""
    ensure_certificate(tmp_path / "data")

    assert not_private(tmp_path / "data") == {}


def test_cloud_credentials_folder_is_private(loose_umask: None, tmp_path: Path) -> None:
    """Linking before the daemon ever ran makes the data dir 0700, not 0755."""
    CredentialStore(tmp_path / "data").save(credentials())

    assert not_private(tmp_path / "data") == {}


def test_voice_recordings_are_private(loose_umask: None, tmp_path: Path) -> None:
    """Both WAV files of a recorded voice session are 0600, their folder 0700."""
    recorder = Recorder(tmp_path / "data" / "recordings", "session", max_frame_bytes=4096)
    recorder.model(b"\x00\x00" * 240)
    recorder.close()

    assert not_private(tmp_path / "data") == {}


# --- the helpers ----------------------------------------------------------------------------


def test_private_dir_makes_missing_parents_private(loose_umask: None, tmp_path: Path) -> None:
    """Every folder `private_dir` creates is 0700, not just the last."""
    private_dir(tmp_path / "data" / "images" / "ab")

    assert not_private(tmp_path / "data") == {}


def test_private_dir_leaves_existing_parents_alone(loose_umask: None, tmp_path: Path) -> None:
    """Folders above the data dir (the user's home, ~/.local/share) keep their modes."""
    (tmp_path / "share").mkdir(mode=0o755)
    (tmp_path / "share").chmod(0o755)

    private_dir(tmp_path / "share" / "studylens")

    assert mode_of(tmp_path / "share") == 0o755


def test_open_private_tightens_an_existing_file(loose_umask: None, tmp_path: Path) -> None:
    """Rewriting a file that was 0644 leaves it 0600."""
    path = tmp_path / "old.wav"
    path.write_bytes(b"old")
    path.chmod(0o644)

    with open_private(path) as out:
        out.write(b"new")

    assert mode_of(path) == 0o600


def test_tighten_tree_leaves_symlink_targets_alone(loose_umask: None, tmp_path: Path) -> None:
    """A symlink in the data dir is not followed: the file it points to keeps its mode."""
    outside = tmp_path / "outside.txt"
    outside.write_text("shared")
    outside.chmod(0o644)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "link").symlink_to(outside)

    tighten_tree(tmp_path / "data")

    assert mode_of(outside) == 0o644


def test_the_cli_runs_under_umask_077(
    loose_umask: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`studylens-edge` itself sets umask 077, for files libraries create in the data dir."""
    monkeypatch.setattr(sys, "argv", ["studylens-edge", "--help"])

    with pytest.raises(SystemExit):
        main()
    current = os.umask(0o022)

    assert current == 0o077

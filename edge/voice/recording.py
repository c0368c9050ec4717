"""Opt-in recording of a voice session: the phone's input and the tutor's output as WAV files."""

from __future__ import annotations

import logging
import re
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from edge.files import open_private, private_dir
from edge.voice.audio import MODEL_RATE, PHONE_RATE, decode_phone_frame, to_pcm16

log = logging.getLogger(__name__)

#: `<session>-<YYYYmmddTHHMMSSZ>-input.wav` / `-output.wav`, as `Recorder` names them; the
#: session part is an id (letters, digits, dashes), so a name never holds a path.
RECORDING_NAME = re.compile(r"[0-9A-Za-z-]{1,80}-(\d{8}T\d{6}Z)-(input|output)\.wav")


class Recorder:
    """Writes `<stem>-input.wav` (16 kHz) and `<stem>-output.wav` (24 kHz), PCM16 mono.

    Writes go straight into buffered files (kilobytes per call), so memory stays flat however
    long the session; the headers are completed on `close`.
    """

    def __init__(self, folder: Path, stem: str, max_frame_bytes: int) -> None:
        private_dir(folder)
        self.input_path = folder / f"{stem}-input.wav"
        self.output_path = folder / f"{stem}-output.wav"
        self._max_frame_bytes = max_frame_bytes
        # The student's voice: 0600 files, which `wave` would make with the umask's mode.
        self._files: list[BinaryIO] = []
        self._input = self._open(self.input_path, PHONE_RATE)
        self._output = self._open(self.output_path, MODEL_RATE)

    def _open(self, path: Path, rate: int) -> wave.Wave_write:
        file = open_private(path)
        self._files.append(file)
        out = wave.open(file, "wb")  # noqa: SIM115 - closed in close()
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        return out

    def phone(self, frame: bytes) -> None:
        """A valid phone frame (Float32LE 16 kHz)."""
        self._input.writeframesraw(to_pcm16(decode_phone_frame(frame, self._max_frame_bytes)))

    def model(self, pcm: bytes) -> None:
        """Tutor audio (PCM16LE 24 kHz)."""
        self._output.writeframesraw(pcm)

    def close(self) -> None:
        """Finish both files (`wave` leaves a file it was handed open)."""
        self._input.close()
        self._output.close()
        for file in self._files:
            file.close()


def stamp(at: datetime) -> str:
    """The UTC time stamp a recording's file names carry."""
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def expired(names: list[str], now: datetime, days: int) -> list[str]:
    """The recordings' file names whose stamp is more than `days` before `now`. Pure.

    Names that are not a recording's (another file someone put there) are never chosen.
    """
    cutoff = now - timedelta(days=days)
    return [name for name in names if (made := made_at(name)) is not None and made < cutoff]


def made_at(name: str) -> datetime | None:
    """When a recording file was made, from its name; None for a name that is not one."""
    match = RECORDING_NAME.fullmatch(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def prune_recordings(folder: Path, now: datetime, days: int) -> int:
    """Delete the recordings older than `days`; how many files went. Blocking: run in a thread."""
    if not folder.is_dir():
        return 0
    gone = 0
    for name in expired([path.name for path in folder.iterdir()], now, days):
        try:
            (folder / name).unlink(missing_ok=True)
            gone += 1
        except OSError as exc:
            log.warning("could not delete the recording %s: %s", name, exc)
    if gone:
        log.info("deleted %d voice recording files older than %d days", gone, days)
    return gone

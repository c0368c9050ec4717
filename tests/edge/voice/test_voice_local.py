"""Local audio: the relay on fake streams, the sounddevice adapter on real PortAudio devices.

The real devices are ALSA's, backed by files (no sound card); the CLI is tried with and without
PortAudio.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import os
import sys
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.voice.local import (
    BLOCK,
    AudioUnavailable,
    LocalPhone,
    SoundDeviceStreams,
    list_devices,
    run_local,
    sounddevice_module,
)
from edge.voice.protocol import Closing, ErrorEvent, Interrupt, Transcript
from tests.edge.voice.voice_support import (
    WAIT,
    eventually,
    make_relay,
    peer_connect,
    silence,
    tone,
)
from tests.fakes.realtime_peer import RATE, REPLY_TEXT, FakeRealtime
from tests.fakes.realtime_peer import tone as peer_tone

SPEAKER_BYTES = 960  # what one speaker callback asks for: 20 ms at 24 kHz


class _ThreadedStream:
    """A stream whose work runs on a thread from enter to exit, as PortAudio's callbacks do."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class FakeMicrophone(_ThreadedStream):
    """A started-on-enter input stream: 20 ms Float32 blocks from a thread, then silence."""

    def __init__(self, callback: Callable[[bytes], None], samples: np.ndarray) -> None:
        self._callback = callback
        self._blocks = [
            samples[i : i + BLOCK].astype("<f4").tobytes() for i in range(0, len(samples), BLOCK)
        ]
        super().__init__("fake-microphone")
        self.blocks_sent = 0

    def _run(self) -> None:
        for block in self._blocks:
            if self._stop.wait(0.002):
                return
            self._callback(block)
            self.blocks_sent += 1


class FakeSpeaker(_ThreadedStream):
    """A started-on-enter output stream pulling 20 ms of PCM16 from a thread."""

    def __init__(self, pull: Callable[[int], bytes]) -> None:
        self._pull = pull
        self._lock = threading.Lock()
        self._played = bytearray()
        super().__init__("fake-speaker")

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            chunk = self._pull(SPEAKER_BYTES)
            assert len(chunk) == SPEAKER_BYTES
            with self._lock:
                self._played.extend(chunk)

    @property
    def played(self) -> bytes:
        """Everything played so far."""
        with self._lock:
            return bytes(self._played)


class FakeStreams:
    """The Streams port with a fake microphone and speaker."""

    def __init__(self, samples: np.ndarray) -> None:
        self._samples = samples
        self.microphone: FakeMicrophone | None = None
        self.speaker: FakeSpeaker | None = None

    def input(self, callback: Callable[[bytes], None]) -> FakeMicrophone:
        """The microphone."""
        self.microphone = FakeMicrophone(callback, self._samples)
        return self.microphone

    def output(self, pull: Callable[[int], bytes]) -> FakeSpeaker:
        """The speaker."""
        self.speaker = FakeSpeaker(pull)
        return self.speaker


def voiced(pcm: bytes) -> npt.NDArray[np.int16]:
    """The non-zero PCM16 samples, in order (silence padding removed)."""
    samples: npt.NDArray[np.int16] = np.frombuffer(pcm, "<i2")
    voiced_samples: npt.NDArray[np.int16] = samples[samples != 0]
    return voiced_samples


async def test_the_local_relay_speaks_the_tutors_answer(realtime_peer: FakeRealtime) -> None:
    """Microphone audio reaches the model; its answer plays on the speaker, sample for sample."""
    said: list[str] = []
    phone = LocalPhone(say=said.append)
    streams = FakeStreams(np.concatenate([tone(440, 0.6), silence(0.5)]))
    relay = make_relay(phone, peer_connect(realtime_peer))
    answer = voiced(peer_tone(0, RATE * realtime_peer.reply_audio_ms // 1000))
    task = asyncio.create_task(run_local(relay, phone, streams))
    try:
        await eventually(
            lambda: (
                streams.speaker is not None and len(voiced(streams.speaker.played)) >= len(answer)
            )
        )
    finally:
        relay.close("stopped")
        async with asyncio.timeout(5):
            await task
    assert streams.speaker is not None
    assert np.array_equal(voiced(streams.speaker.played), answer)
    assert len(realtime_peer.audio) >= 1000 * 48  # over a second of microphone at 24 kHz
    assert f"tutor: {REPLY_TEXT}" in said
    assert "you: (speech)" in said
    assert said[-1].startswith("[closing]")


async def test_pull_pads_with_silence() -> None:
    """Less queued audio than asked for is padded with zeros; nothing queued is all zeros."""
    phone = LocalPhone(say=lambda _: None)
    assert phone.pull(6) == b"\x00" * 6
    await phone.send_audio(b"\x01\x02\x03\x04")
    assert phone.pull(8) == b"\x01\x02\x03\x04" + b"\x00" * 4


async def test_pull_spans_queued_chunks_and_keeps_the_rest() -> None:
    """A pull takes across chunk boundaries; what it does not take comes next."""
    phone = LocalPhone(say=lambda _: None)
    await phone.send_audio(b"ab")
    await phone.send_audio(b"cdef")
    assert (phone.pull(3), phone.pull(3), phone.pull(2)) == (b"abc", b"def", b"\x00\x00")


async def test_an_interrupt_silences_the_speaker_at_once() -> None:
    """`interrupt` drops everything not yet played."""
    phone = LocalPhone(say=lambda _: None)
    await phone.send_audio(b"\x01" * 10)
    assert phone.pull(4) == b"\x01" * 4
    await phone.send_event(Interrupt(item_id="item_1"))
    assert phone.pull(8) == b"\x00" * 8


async def test_final_transcripts_and_problems_are_shown() -> None:
    """Final transcripts, errors and closing are printed; partial transcripts are not."""
    said: list[str] = []
    phone = LocalPhone(say=said.append)
    await phone.send_event(Transcript(role="user", text="what is mitosis", final=False))
    await phone.send_event(Transcript(role="user", text="what is mitosis?", final=True))
    await phone.send_event(Transcript(role="assistant", text="Cell division.", final=True))
    await phone.send_event(ErrorEvent(code="model_error", message="oops"))
    await phone.send_event(Closing(reason="stopped"))
    assert said[:2] == ["you: what is mitosis?", "tutor: Cell division."]
    assert "model_error" in said[2]
    assert "stopped" in said[3]
    assert len(said) == 4


@pytest.fixture
def hermetic_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    """A CLI runner with no settings from the machine."""
    for name in list(os.environ):
        if name.startswith("STUDYLENS_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return CliRunner()


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes `import sounddevice` fail as it does on a machine without PortAudio."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        """Refuse sounddevice the way it refuses itself when libportaudio is absent."""
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


@pytest.fixture
def without_portaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process, for the test, look like a machine without PortAudio."""
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])


@pytest.mark.usefixtures("without_portaudio")
def test_audio_devices_without_portaudio_explains_what_is_missing(
    hermetic_cli: CliRunner,
) -> None:
    """`audio devices` without PortAudio exits 1 naming it and the Debian package."""
    result = hermetic_cli.invoke(cli_app, ["audio", "devices"])
    assert result.exit_code == 1
    assert "PortAudio is missing" in result.output
    assert "libportaudio2" in result.output
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("without_portaudio")
def test_voice_local_without_portaudio_explains_what_is_missing(
    hermetic_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`voice --local` with a key but no PortAudio exits 1 naming it."""
    monkeypatch.setenv("STUDYLENS_OPENAI_API_KEY", "sk-test-not-a-real-key")
    result = hermetic_cli.invoke(cli_app, ["voice", "--local"])
    assert result.exit_code == 1
    assert "PortAudio is missing" in result.output


# --- the sounddevice adapter on real PortAudio devices -------------------------------------------
#
# No sound card is needed: the test writes an ALSA configuration with two `file` PCMs over ALSA's
# `null` device and points ALSA at it. The microphone reads the samples a file holds; the
# speaker writes a WAV file. PortAudio (libportaudio2, installed by scripts/test.sh) opens them
# like any other ALSA device. The `null` device keeps no clock, so its callbacks come as fast as
# they are served: the tests wait for what they need, then close the stream.

MICROPHONE = "studylens_mic"
SPEAKER = "studylens_speaker"


@dataclass(frozen=True)
class AlsaFiles:
    """The files behind the two ALSA devices."""

    microphone: Path  # Float32LE 16 kHz mono samples the microphone "hears"
    speaker: Path  # the WAV file the speaker writes


def _sounddevice() -> Any:
    try:
        return sounddevice_module()
    except AudioUnavailable as exc:
        raise AssertionError(f"{exc} (scripts/test.sh installs it)") from exc


@pytest.fixture
def alsa_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlsaFiles]:
    """ALSA configured with file-backed devices, and PortAudio re-enumerating them."""
    files = AlsaFiles(microphone=tmp_path / "microphone.f32", speaker=tmp_path / "speaker.wav")
    files.microphone.write_bytes(b"")
    config = tmp_path / "asound.conf"
    config.write_text(
        f"""</usr/share/alsa/alsa.conf>
pcm.{MICROPHONE} {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{files.microphone}"
    format "raw"
}}
pcm.{SPEAKER} {{
    type file
    slave.pcm "null"
    file "{files.speaker}"
    format "wav"
}}
"""
    )
    sd = _sounddevice()
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(config))
    # PortAudio lists devices once, when initialised: start it afresh on this configuration.
    sd._terminate()
    sd._initialize()
    yield files
    monkeypatch.delenv("ALSA_CONFIG_PATH")
    sd._terminate()
    sd._initialize()


def device_index(name: str) -> int:
    """The PortAudio index of the device called `name`."""
    found = [d.index for d in list_devices() if d.name == name]
    assert len(found) == 1, f"{name} not among {[d.name for d in list_devices()]}"
    return found[0]


def test_portaudio_lists_the_alsa_devices(alsa_files: AlsaFiles) -> None:
    """`list_devices` reports the configured microphone and speaker, with channels."""
    devices = {d.name: d for d in list_devices()}
    assert devices[MICROPHONE].inputs >= 1
    assert devices[SPEAKER].outputs >= 1


def test_audio_devices_prints_the_alsa_devices(
    alsa_files: AlsaFiles, hermetic_cli: CliRunner
) -> None:
    """`audio devices` with PortAudio present prints a table naming them."""
    result = hermetic_cli.invoke(cli_app, ["audio", "devices"])
    assert result.exit_code == 0, result.output
    assert MICROPHONE in result.output
    assert SPEAKER in result.output


def test_the_microphone_stream_delivers_what_the_device_records(alsa_files: AlsaFiles) -> None:
    """The real input stream hands over 20 ms Float32 blocks holding the recorded samples."""
    said = tone(440, 0.5)
    alsa_files.microphone.write_bytes(said.astype("<f4").tobytes())
    streams = SoundDeviceStreams(input_device=device_index(MICROPHONE))
    blocks: list[bytes] = []
    enough = threading.Event()

    def heard(block: bytes) -> None:  # PortAudio's thread
        if not enough.is_set():
            blocks.append(block)
            if sum(map(len, blocks)) >= said.nbytes:
                enough.set()

    with streams.input(heard):
        assert enough.wait(WAIT), "the microphone delivered too little"
    assert {len(b) for b in blocks} == {BLOCK * 4}
    recorded = np.frombuffer(b"".join(blocks), "<f4")[: len(said)]
    assert np.array_equal(recorded, said)


async def test_the_speaker_stream_plays_what_the_relay_queued(alsa_files: AlsaFiles) -> None:
    """The real output stream plays the tutor's PCM16 24 kHz mono, sample for sample."""
    answer = peer_tone(0, RATE * 3 // 10)
    phone = LocalPhone(say=lambda _: None)
    await phone.send_audio(answer)
    streams = SoundDeviceStreams(output_device=device_index(SPEAKER))
    pulled = 0
    after = threading.Event()

    def pull(n: int) -> bytes:  # PortAudio's thread
        nonlocal pulled
        if pulled >= len(answer):
            after.set()  # a later callback: the one that took the answer's end has returned
        chunk = phone.pull(n)
        pulled += n
        return chunk

    with streams.output(pull):
        assert await asyncio.to_thread(after.wait, WAIT), "the speaker took too little"
    with wave.open(str(alsa_files.speaker), "rb") as played:
        assert (played.getframerate(), played.getnchannels(), played.getsampwidth()) == (
            RATE,
            1,
            2,
        )
        frames = played.readframes(played.getnframes())
    assert np.array_equal(voiced(frames), voiced(answer))


def test_voice_local_without_a_key_says_to_set_one(hermetic_cli: CliRunner) -> None:
    """`voice --local` without any OpenAI key exits 1 and names the setting."""
    result = hermetic_cli.invoke(cli_app, ["voice", "--local"])
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.output


def test_voice_without_local_is_refused(hermetic_cli: CliRunner) -> None:
    """`voice` alone is a usage error (phones use WS /ws)."""
    result = hermetic_cli.invoke(cli_app, ["voice"])
    assert result.exit_code == 2
    assert "--local" in result.output

"""Local audio: the relay on a (fake) microphone and speaker, and the CLI without PortAudio."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner

from edge.cli import app as cli_app
from edge.voice.local import BLOCK, LocalPhone, run_local
from edge.voice.protocol import Closing, ErrorEvent, Interrupt, Transcript
from tests.edge.voice.voice_support import eventually, make_relay, peer_connect, silence, tone
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


def portaudio_missing() -> bool:
    """Whether importing sounddevice fails here (no PortAudio, or no sounddevice)."""
    try:
        import sounddevice  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except (ImportError, OSError):
        return True
    return False


def test_audio_devices_without_portaudio_explains_what_is_missing(
    hermetic_cli: CliRunner,
) -> None:
    """`audio devices` without PortAudio exits 1 naming PortAudio or sounddevice."""
    assert portaudio_missing(), "this test expects a machine without PortAudio"
    result = hermetic_cli.invoke(cli_app, ["audio", "devices"])
    assert result.exit_code == 1
    assert "PortAudio" in result.output or "sounddevice" in result.output
    assert "Traceback" not in result.output


def test_voice_local_without_portaudio_explains_what_is_missing(
    hermetic_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`voice --local` with a key but no PortAudio exits 1 naming PortAudio or sounddevice."""
    assert portaudio_missing(), "this test expects a machine without PortAudio"
    monkeypatch.setenv("STUDYLENS_OPENAI_API_KEY", "sk-test-not-a-real-key")
    result = hermetic_cli.invoke(cli_app, ["voice", "--local"])
    assert result.exit_code == 1
    assert "PortAudio" in result.output or "sounddevice" in result.output


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

"""The voice tutor on this computer's own microphone and speaker (sounddevice / PortAudio).

Optional: sounddevice is an extra and PortAudio a system library; without them the daemon runs
as usual and only these commands explain what to install.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from edge.errors import EdgeError
from edge.voice.audio import MODEL_RATE, PHONE_RATE
from edge.voice.protocol import Closing, ErrorEvent, Interrupt, Transcript
from shared.schemas import WireModel

#: Microphone block: 20 ms at 16 kHz, the same frames a phone sends.
BLOCK = PHONE_RATE // 50


class AudioUnavailable(EdgeError):
    """sounddevice or PortAudio is missing, or the device cannot be opened."""

    http_status = 503
    code = "audio_unavailable"


def sounddevice_module() -> Any:
    """Import sounddevice, turning its absence (or PortAudio's) into a clear error."""
    try:
        import sounddevice  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise AudioUnavailable(
            "sounddevice is not installed: pip install 'studylens[local-audio]'"
        ) from exc
    except OSError as exc:  # sounddevice loads PortAudio when imported
        raise AudioUnavailable(f"PortAudio is missing ({exc}): apt install libportaudio2") from exc
    return sounddevice


@dataclass(frozen=True)
class Device:
    """One sound device."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float


def list_devices() -> list[Device]:
    """The sound devices PortAudio sees."""
    sd = sounddevice_module()
    return [
        Device(
            index=n,
            name=str(d["name"]),
            inputs=int(d["max_input_channels"]),
            outputs=int(d["max_output_channels"]),
            default_rate=float(d["default_samplerate"]),
        )
        for n, d in enumerate(sd.query_devices())
    ]


class Streams(Protocol):
    """Opens the microphone and speaker streams (sounddevice in production)."""

    def input(self, callback: Callable[[bytes], None]) -> Any:
        """A started-on-enter context manager delivering Float32LE 16 kHz mono blocks."""
        ...

    def output(self, pull: Callable[[int], bytes]) -> Any:
        """A context manager playing PCM16LE 24 kHz mono, pulling `n` bytes at a time."""
        ...


class SoundDeviceStreams:
    """Streams on real devices."""

    def __init__(self, input_device: int | None = None, output_device: int | None = None) -> None:
        self._sd = sounddevice_module()
        self._input_device = input_device
        self._output_device = output_device

    def input(self, callback: Callable[[bytes], None]) -> Any:
        """Microphone at 16 kHz mono Float32, 20 ms blocks."""

        def on_block(indata: np.ndarray[Any, Any], frames: int, time: Any, status: Any) -> None:
            callback(bytes(indata))

        return self._sd.RawInputStream(
            samplerate=PHONE_RATE,
            channels=1,
            dtype="float32",
            blocksize=BLOCK,
            device=self._input_device,
            callback=on_block,
        )

    def output(self, pull: Callable[[int], bytes]) -> Any:
        """Speaker at 24 kHz mono PCM16."""

        def on_block(outdata: Any, frames: int, time: Any, status: Any) -> None:
            outdata[:] = pull(frames * 2)

        return self._sd.RawOutputStream(
            samplerate=MODEL_RATE,
            channels=1,
            dtype="int16",
            device=self._output_device,
            callback=on_block,
        )


class LocalPhone:
    """The relay's phone side on the speaker: audio is played, events printed."""

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self._audio: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._pending = b""
        self._say = say

    async def send_audio(self, pcm: bytes) -> None:
        """Queue tutor audio for the speaker's callback thread."""
        self._audio.put(pcm)

    async def send_event(self, event: WireModel) -> None:
        """Show transcripts and problems in the terminal; an interrupt silences the speaker."""
        if isinstance(event, Transcript) and event.final:
            self._say(f"{'you' if event.role == 'user' else 'tutor'}: {event.text}")
        elif isinstance(event, ErrorEvent | Closing):
            self._say(f"[{event.type}] {event.model_dump(by_alias=True)}")
        elif isinstance(event, Interrupt):
            self.flush()

    def flush(self) -> None:
        """Drop whatever the speaker has not played yet."""
        self._pending = b""
        while not self._audio.empty():
            self._audio.get_nowait()

    def pull(self, n: int) -> bytes:
        """The next `n` bytes for the speaker, silence-padded (runs in PortAudio's thread)."""
        while len(self._pending) < n and not self._audio.empty():
            self._pending += self._audio.get_nowait()
        out, self._pending = self._pending[:n], self._pending[n:]
        return out + b"\x00" * (n - len(out))


async def run_local(relay: Any, phone: LocalPhone, streams: Streams) -> None:
    """Feed the microphone to `relay` and play its answers until it closes."""
    loop = asyncio.get_running_loop()

    def heard(block: bytes) -> None:  # PortAudio's thread: hand over to the loop
        loop.call_soon_threadsafe(relay.phone_audio, block)

    with streams.input(heard), streams.output(phone.pull):
        await relay.run()

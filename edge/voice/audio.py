"""Pure audio conversions of the voice relay: phone Float32 16 kHz in, Realtime PCM16 24 kHz out.

No I/O and no asyncio here, so each stage (validate, resample, PCM16, frame, base64) is tested
alone and benchmarked in `scripts/bench/resample.py`; the WebSocket handler only moves bytes.
"""

from __future__ import annotations

import base64
import functools
import math
from typing import Any, Final, Literal, Protocol

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

from edge.errors import EdgeError

#: The phone's capture rate (Float32LE mono frames on `/ws`).
PHONE_RATE = 16_000
#: The rate of the Realtime API's `audio/pcm` format, in both directions.
MODEL_RATE: Final = 24_000  # Final: the SDK's format types take exactly Literal[24000]

# PCM16 full scale. Dividing by 32768 and multiplying back makes the int16 -> float -> int16
# round trip exact; +1.0 clips to 32767, as every PCM16 converter does. float32 scalars keep
# the arithmetic in float32 and spare numpy a scalar conversion per call.
_SCALE = np.float32(32_768)
_PCM16_MIN = np.float32(-32_768)
_PCM16_MAX = np.float32(32_767)
_ONE = np.float32(1)
_MINUS_ONE = np.float32(-1)
_PCM16_LE = np.dtype("<i2")
_FLOAT32_LE = np.dtype("<f4")

ResamplerKind = Literal["polyphase", "soxr", "libsamplerate"]


class BadAudioFrame(EdgeError):
    """A phone frame that cannot be audio (empty, length not a multiple of 4, too large)."""

    http_status = 400
    code = "bad_audio"


class ResamplerUnavailable(EdgeError):
    """The selected resampler backend is not installed (libsamplerate is an optional extra)."""

    http_status = 503
    code = "resampler_unavailable"


def decode_phone_frame(data: bytes, max_bytes: int) -> npt.NDArray[np.float32]:
    """Validate and sanitise one phone frame: NaN/±Inf -> 0, clamp to [-1, 1].

    Raises BadAudioFrame with a human message; a bad frame is the phone's bug, not a crash.
    """
    if not data:
        raise BadAudioFrame("Empty audio frame: expected Float32LE samples.")
    if len(data) > max_bytes:
        raise BadAudioFrame(
            f"Audio frame of {len(data)} bytes is over the limit of {max_bytes} bytes."
        )
    if len(data) % 4:
        raise BadAudioFrame(
            f"Audio frame of {len(data)} bytes is not a whole number of Float32 samples "
            "(4 bytes each)."
        )
    # astype copies: frombuffer is read-only, and the copy is native-endian on any host.
    samples = np.frombuffer(data, dtype=_FLOAT32_LE).astype(np.float32)
    # Fast path for the usual frame: min and max propagate NaN, so one range check covers NaN,
    # ±Inf and overshoot; a mask and a clip on every frame took half the decoding time (measured).
    if not (np.minimum.reduce(samples) >= _MINUS_ONE and np.maximum.reduce(samples) <= _ONE):
        # One NaN would poison the resampler's filter state for the rest of the stream.
        samples[~np.isfinite(samples)] = 0.0
        np.clip(samples, _MINUS_ONE, _ONE, out=samples)
    return samples


class Resampler(Protocol):
    """A streaming mono resampler: state carries across calls so chunk seams are inaudible."""

    def process(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Resample the next chunk; may return fewer samples than the ratio while filling."""
        ...

    def flush(self) -> npt.NDArray[np.float32]:
        """The delayed tail at end of stream; afterwards the resampler starts a fresh stream."""
        ...


def lowpass_kaiser(
    *, rate: float, passband: float, stopband: float, attenuation_db: float
) -> npt.NDArray[np.float64]:
    """A linear-phase low-pass FIR (windowed sinc, Kaiser window) for the given band edges.

    The cut-off is midway between `passband` and `stopband`; the length follows Kaiser's formula
    for `attenuation_db`.
    """
    width = 2 * math.pi * (stopband - passband) / rate
    length = math.ceil((attenuation_db - 7.95) / (2.285 * width)) | 1  # odd: a centre tap
    beta = 0.1102 * (attenuation_db - 8.7)
    cutoff = (passband + stopband) / 2 / rate  # cycles per sample
    n = np.arange(length) - length // 2
    taps: npt.NDArray[np.float64] = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, beta)
    return taps


def minimum_phase(
    taps: npt.NDArray[np.float64], fft_size: int = 1 << 16
) -> npt.NDArray[np.float64]:
    """The minimum-phase FIR with the same magnitude response (homomorphic, via the cepstrum).

    Its energy comes first instead of at the centre: a linear-phase filter delays everything by
    half its length, a minimum-phase one by a fraction of a millisecond here. The ear does not
    hear the phase; the model's speech recognition does not either.
    """
    magnitude = np.abs(np.fft.fft(taps, fft_size))
    cepstrum = np.fft.ifft(np.log(np.maximum(magnitude, 1e-15))).real
    folded = np.zeros(fft_size)
    folded[0] = cepstrum[0]
    folded[1 : fft_size // 2] = 2 * cepstrum[1 : fft_size // 2]
    folded[fft_size // 2] = cepstrum[fft_size // 2]
    response: npt.NDArray[np.float64] = np.fft.ifft(np.exp(np.fft.fft(folded))).real
    return response[: taps.size]


@functools.cache
def _interpolation_phases(up: int, down: int, in_rate: int) -> npt.NDArray[np.float32]:
    """The L phase filters of the up-by-L anti-imaging low-pass; designed once per process."""
    nyquist = min(in_rate, in_rate * up // down) / 2
    passband = 0.875 * nyquist  # 7 kHz of the phone's 8 kHz: all of speech
    taps = minimum_phase(
        lowpass_kaiser(
            rate=in_rate * up,
            passband=passband,
            stopband=2 * nyquist - passband,  # 9 kHz: the image of 7 kHz is fully rejected
            attenuation_db=120.0,
        )
    )
    per_phase = -(-taps.size // up)
    padded = np.zeros(per_phase * up)
    padded[: taps.size] = taps * up  # each phase sums to about 1: unity gain
    # Row p: phase p's taps, newest input sample last, to dot with a window of the input.
    return np.ascontiguousarray(padded.reshape(per_phase, up).T[:, ::-1], dtype=np.float32)


class _PolyphaseResampler:
    """A streaming polyphase FIR resampler by L/M, its state carried across chunks.

    Output sample r is the up-by-L signal's sample r*M, filtered: one dot product of the last
    T input samples with one of L phase filters, so a chunk's outputs are L strided
    matrix-vector products over a sliding window. Nothing waits for a block or for future
    input: every output whose time has arrived leaves at once, and with a minimum-phase filter
    a click comes out within a fraction of a millisecond (BENCHMARKS.md).
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        g = math.gcd(in_rate, out_rate)
        self._up, self._down = out_rate // g, in_rate // g
        self._phases = _interpolation_phases(self._up, self._down, in_rate)
        self._taps = self._phases.shape[1]
        self._reset()

    def _reset(self) -> None:
        self._history = np.zeros(self._taps - 1, dtype=np.float32)
        self._samples_in = 0  # input samples consumed
        self._next = 0  # the next output sample

    def process(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        buffer = np.concatenate((self._history, samples))
        up, down, first = self._up, self._down, self._next
        # Output r is at input time r*M/L: every r before the end of the input is ready.
        end = ((self._samples_in + len(samples)) * up + down - 1) // down
        out = np.empty(end - first, dtype=np.float32)
        if len(out):
            windows = np.lib.stride_tricks.sliding_window_view(buffer, self._taps)
            for k in range(min(up, len(out))):
                r = first + k
                row = r * down // up - self._samples_in  # the window ending at input r*M//L
                rows = windows[row : row + down * len(out[k::up]) : down]
                out[k::up] = rows @ self._phases[r * down % up]
            self._next = end
        self._samples_in += len(samples)
        self._history = buffer[len(buffer) - (self._taps - 1) :]
        return out

    def flush(self) -> npt.NDArray[np.float32]:
        # Every output up to the end of the input has gone already; only the state is reset.
        self._reset()
        return np.zeros(0, dtype=np.float32)


class _SoxrResampler:
    """soxr's `ResampleStream`, the resampler pipecat and LiveKit Agents use."""

    def __init__(self, in_rate: int, out_rate: int, quality: str) -> None:
        self._stream: Any = soxr.ResampleStream(
            in_rate, out_rate, 1, dtype="float32", quality=quality
        )

    def process(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # Already float32 (the stream's dtype): no np.asarray, this runs 50 times a second.
        out: npt.NDArray[np.float32] = self._stream.resample_chunk(samples)
        return out

    def flush(self) -> npt.NDArray[np.float32]:
        tail = np.asarray(
            self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True),
            dtype=np.float32,
        )
        # After `last=True` the stream has ended; clear() readies it for the next utterance.
        self._stream.clear()
        return tail


class _LibsamplerateResampler:
    """libsamplerate's `Resampler` (python-samplerate), selectable in settings."""

    # Zero input samples fed past the end on flush: more than the widest filter's half length
    # (sinc_best: about 145 input samples at ratio 1.5, measured).
    _FLUSH_PAD = 512

    def __init__(self, resampler: Any, in_rate: int, out_rate: int) -> None:
        self._resampler = resampler
        self._ratio = out_rate / in_rate
        self._samples_in = 0
        self._samples_out = 0

    def process(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = np.asarray(self._resampler.process(samples, self._ratio), dtype=np.float32)
        self._samples_in += len(samples)
        self._samples_out += len(out)
        return out

    def flush(self) -> npt.NDArray[np.float32]:
        # python-samplerate sizes its output buffer from the input length, so `end_of_input`
        # with an empty chunk returns nothing (0.2.4, measured). Pad with zeros (what
        # libsamplerate assumes past the end anyway) and keep exactly the missing samples.
        missing = round(self._samples_in * self._ratio) - self._samples_out
        tail = np.zeros(0, dtype=np.float32)
        if missing > 0:
            pad = np.zeros(self._FLUSH_PAD, dtype=np.float32)
            out = self._resampler.process(pad, self._ratio, end_of_input=True)
            tail = np.asarray(out, dtype=np.float32)[:missing]
        self._resampler.reset()
        self._samples_in = self._samples_out = 0
        return tail


def make_resampler(
    kind: ResamplerKind = "polyphase",
    in_rate: int = PHONE_RATE,
    out_rate: int = MODEL_RATE,
    quality: str | None = None,
) -> Resampler:
    """A fresh streaming resampler: the polyphase FIR by default, soxr or libsamplerate on request.

    The polyphase FIR holds nothing back (a minimum-phase filter: a click is out within a
    fraction of a millisecond) against soxr HQ's 36.6 ms of blocks, at 120 dB image rejection
    (see BENCHMARKS.md). soxr's default quality is "HQ",
    libsamplerate's "sinc_medium" (only if the samplerate extra is installed).
    """
    if kind == "polyphase":
        return _PolyphaseResampler(in_rate, out_rate)
    if kind == "soxr":
        return _SoxrResampler(in_rate, out_rate, quality or "HQ")
    if kind == "libsamplerate":
        try:
            # Imported lazily: python-samplerate ships no aarch64 wheel, so the Pi runs without it.
            import samplerate  # type: ignore[import-not-found]  # no stubs, compiled module
        except ImportError as exc:
            raise ResamplerUnavailable(
                "The libsamplerate resampler needs the 'samplerate' package, which is not "
                "installed (it has no aarch64 wheel); install it or use the default 'soxr'."
            ) from exc
        resampler = samplerate.Resampler(quality or "sinc_medium", channels=1)
        return _LibsamplerateResampler(resampler, in_rate, out_rate)
    raise ValueError(
        f"Unknown resampler {kind!r}: expected 'polyphase', 'soxr' or 'libsamplerate'."
    )


def to_pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] as PCM16LE: rounded, clipped to int16."""
    scaled = samples * _SCALE
    np.rint(scaled, out=scaled)
    # Clip before the cast: the resampler's ringing can overshoot 1.0 on a full-scale input,
    # and an unclipped cast would wrap +32768 to -32768 (a loud click). Two ufuncs with float32
    # scalars cost half of np.clip's Python wrapper on a 480-sample chunk (numpy 2.4, measured).
    np.maximum(scaled, _PCM16_MIN, out=scaled)
    np.minimum(scaled, _PCM16_MAX, out=scaled)
    return scaled.astype(_PCM16_LE).tobytes()


def pcm16_to_float(data: bytes) -> npt.NDArray[np.float32]:
    """PCM16LE bytes as float samples (/32768); raises BadAudioFrame on an odd length."""
    if len(data) % 2:
        raise BadAudioFrame(
            f"PCM16 audio of {len(data)} bytes is not a whole number of 2-byte samples."
        )
    samples = np.frombuffer(data, dtype=_PCM16_LE).astype(np.float32)
    samples /= _SCALE
    return samples


def pcm16_duration_ms(n_bytes: int, rate: int = MODEL_RATE) -> float:
    """How long `n_bytes` of mono PCM16 plays, in ms (for truncation and playback accounting)."""
    return n_bytes / 2 / rate * 1000


class Framer:
    """Cuts a PCM16 byte stream into chunks of exactly `frame_ms`, keeping the remainder."""

    def __init__(self, rate: int = MODEL_RATE, frame_ms: int = 20) -> None:
        if frame_ms <= 0 or (rate * frame_ms) % 1000:
            raise ValueError(f"{frame_ms} ms is not a whole number of samples at {rate} Hz.")
        self.frame_bytes = rate * frame_ms // 1000 * 2
        self._pending = bytearray()

    def push(self, pcm: bytes) -> list[bytes]:
        """Append `pcm`; return every complete frame, keeping the rest for the next push."""
        self._pending += pcm
        size = self.frame_bytes
        whole = len(self._pending) - len(self._pending) % size
        frames = [bytes(self._pending[i : i + size]) for i in range(0, whole, size)]
        del self._pending[:whole]
        return frames

    def flush(self) -> bytes:
        """Whatever remains (possibly b""); the framer is then empty."""
        rest = bytes(self._pending)
        self._pending.clear()
        return rest


def _b64(frame: bytes) -> str:
    """Base64 as the ASCII `str` a JSON event carries."""
    return base64.b64encode(frame).decode("ascii")


class InboundAudio:
    """phone Float32 16 kHz frames -> base64 PCM16 24 kHz chunks for input_audio_buffer.append.

    By default each phone frame's audio leaves as one chunk, as soon as it is resampled (the
    Realtime API takes appends of any length); `frame_ms` re-frames into chunks of that length
    instead, holding back the remainder.
    """

    def __init__(
        self, *, resampler: Resampler, frame_ms: int | None = None, max_frame_bytes: int = 64_000
    ) -> None:
        self._resampler = resampler
        self._framer = Framer(MODEL_RATE, frame_ms) if frame_ms is not None else None
        self._max_frame_bytes = max_frame_bytes

    def feed(self, data: bytes) -> list[str]:
        """Base64 chunks ready to send; raises BadAudioFrame (state untouched) for a bad frame."""
        return self.convert(self.decode(data))

    def decode(self, data: bytes) -> npt.NDArray[np.float32]:
        """The frame's samples, validated; raises BadAudioFrame and changes nothing if bad."""
        return decode_phone_frame(data, self._max_frame_bytes)

    def convert(self, samples: npt.NDArray[np.float32]) -> list[str]:
        """Base64 chunks of decoded phone samples."""
        # Validation (decode) comes first and is the only step that raises, so a bad frame is
        # dropped without feeding the resampler half a frame.
        resampled = self._resampler.process(samples)
        if not len(resampled):
            # soxr works in blocks: at HQ, 16 -> 24 kHz, every other 20 ms frame yields nothing.
            return []
        return self._chunks(to_pcm16(resampled))

    def flush(self) -> list[str]:
        """Resampler tail + framer remainder, at end of stream; then ready for a new stream."""
        tail = self._resampler.flush()
        chunks = self._chunks(to_pcm16(tail)) if len(tail) else []
        if self._framer is not None:
            rest = self._framer.flush()
            if rest:
                chunks.append(_b64(rest))
        return chunks

    def _chunks(self, pcm: bytes) -> list[str]:
        if self._framer is None:
            return [_b64(pcm)]
        return [_b64(frame) for frame in self._framer.push(pcm)]


def append_event(chunk: str) -> str:
    """The `input_audio_buffer.append` event for one base64 chunk, as JSON text.

    Built directly: base64 needs no JSON escaping, and this runs 50 times a second per phone
    (json.dumps took a fifth of the inbound path's time, measured).
    """
    return f'{{"type":"input_audio_buffer.append","audio":"{chunk}"}}'

"""The resampler's filter design, tested directly (the resampler caches its filter per process).

A 16 -> 24 kHz anti-imaging low-pass at the up-by-3 rate (48 kHz): passband to 7 kHz, stopband
from 9 kHz (where the 7 kHz tone's image lies).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from edge.voice.audio import lowpass_kaiser, minimum_phase

RATE = 48_000
FFT = 1 << 16
SPEC = {"rate": RATE, "passband": 7_000.0, "stopband": 9_000.0, "attenuation_db": 100.0}


Floats = npt.NDArray[np.float64]


def gain_db(taps: Floats) -> tuple[Floats, Floats]:
    """(frequencies, gain in dB relative to DC) of a filter's magnitude response."""
    magnitude = np.abs(np.fft.rfft(taps, FFT))
    freqs: Floats = np.fft.rfftfreq(FFT, 1 / RATE).astype(np.float64)
    gains: Floats = 20 * np.log10(magnitude / magnitude[0] + 1e-300)
    return freqs, gains


@pytest.fixture
def linear() -> Floats:
    """The linear-phase design, made anew for each test (each then calls the design itself)."""
    return lowpass_kaiser(**SPEC)


def test_the_lowpass_rejects_its_stopband_by_the_attenuation(
    linear: npt.NDArray[np.float64],
) -> None:
    """From 9 kHz up, nothing comes through louder than -100 dB (Kaiser's design, to 0.5 dB)."""
    freqs, gains = gain_db(linear)
    assert gains[freqs >= 9_000].max() < -99.5


def test_the_lowpass_is_flat_through_its_passband(linear: npt.NDArray[np.float64]) -> None:
    """Up to 7 kHz the gain stays within 0.01 dB of unity."""
    freqs, gains = gain_db(linear)
    assert np.abs(gains[freqs <= 7_000]).max() < 0.01


def test_the_lowpass_has_unity_gain_at_dc(linear: npt.NDArray[np.float64]) -> None:
    """The taps sum to one: a constant passes at its own level."""
    assert float(np.sum(linear)) == pytest.approx(1.0, abs=1e-4)


def test_the_lowpass_cuts_off_midway_between_its_edges(linear: npt.NDArray[np.float64]) -> None:
    """At 8 kHz, the middle of the transition, a windowed sinc is at half amplitude (-6 dB)."""
    freqs, gains = gain_db(linear)
    assert float(np.interp(8_000, freqs, gains)) == pytest.approx(-6.02, abs=0.1)


def test_the_lowpass_length_follows_kaisers_formula(linear: npt.NDArray[np.float64]) -> None:
    """(A - 7.95) / (2.285 * transition width in radians), rounded up to an odd length."""
    width = 2 * math.pi * 2_000 / RATE
    assert len(linear) == math.ceil((100.0 - 7.95) / (2.285 * width)) | 1 == 155


def test_the_lowpass_is_linear_phase(linear: npt.NDArray[np.float64]) -> None:
    """Symmetric taps around a centre tap, the largest."""
    assert np.allclose(linear, linear[::-1], atol=1e-15)
    assert int(np.argmax(linear)) == len(linear) // 2


def test_minimum_phase_keeps_the_magnitude_response(linear: npt.NDArray[np.float64]) -> None:
    """The same gain within 0.01 dB through the passband, and the same stopband."""
    freqs, wanted = gain_db(linear)
    _, got = gain_db(minimum_phase(linear))
    passband = freqs <= 7_000
    assert np.abs(got[passband] - wanted[passband]).max() < 0.01
    assert got[freqs >= 9_000].max() < -99.5


def test_minimum_phase_puts_the_energy_first(linear: npt.NDArray[np.float64]) -> None:
    """95% of the energy in the first 40 of 155 taps (the linear design needs its middle)."""
    taps = minimum_phase(linear)
    share = np.cumsum(taps**2) / np.sum(taps**2)
    assert share[39] >= 0.95
    assert (np.cumsum(linear**2) / np.sum(linear**2))[39] < 0.05


def test_minimum_phase_keeps_the_gain_at_dc(linear: Floats) -> None:
    """Its taps sum to the same: a constant passes at the same level."""
    assert float(np.sum(minimum_phase(linear))) == pytest.approx(float(np.sum(linear)), rel=1e-6)


def test_minimum_phase_keeps_the_length(linear: npt.NDArray[np.float64]) -> None:
    """As many taps as the design it came from."""
    assert len(minimum_phase(linear)) == len(linear)

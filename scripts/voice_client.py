"""A sample voice client: speak a WAV file (or a test tone) to the tutor, save what it answers.

    .venv/bin/python scripts/voice_client.py --token=T --wav question.wav
    .venv/bin/python scripts/voice_client.py --token=T --tone 2   # 2 s of a 440 Hz tone

T is a device token (pair first: `studylens-edge pair`, then POST /api/pair).

Input WAVs must be mono; they are converted to Float32 16 kHz with soxr. The tutor's answer is
written to answer.wav (PCM16 24 kHz) and transcripts are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import wave
from pathlib import Path

import numpy as np
import soxr  # type: ignore[import-untyped]
from aiohttp import ClientSession, WSMsgType

FRAME = 320  # 20 ms at 16 kHz


def load(path: Path | None, tone_seconds: float) -> np.ndarray:
    """Mono Float32 16 kHz samples from a WAV file, or a tone followed by silence."""
    if path is None:
        t = np.arange(int(16_000 * tone_seconds)) / 16_000
        speech = 0.4 * np.sin(2 * np.pi * 440 * t)
        return np.concatenate([speech, np.zeros(16_000)]).astype(np.float32)
    with wave.open(str(path)) as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise SystemExit("need a mono 16-bit WAV")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
        resampled: np.ndarray = soxr.resample(pcm, wav.getframerate(), 16_000)
        return resampled.astype(np.float32)


async def talk(url: str, token: str, samples: np.ndarray, out: Path, listen: float) -> int:
    """Send the samples in real time, collect the answer for `listen` seconds after."""
    answer = bytearray()
    async with ClientSession() as session, session.ws_connect(url, params={"token": token}) as ws:
        await ws.send_json({"type": "start"})

        async def receive() -> None:
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    answer.extend(message.data)
                elif message.type == WSMsgType.TEXT:
                    event = json.loads(message.data)
                    if event["type"] == "transcript" and event["final"]:
                        print(f"{event['role']}: {event['text']}")
                    elif event["type"] != "transcript":
                        print(f"[{event['type']}] {event}")
                    if event["type"] == "closing":
                        return

        receiver = asyncio.create_task(receive())
        for start in range(0, len(samples), FRAME):
            await ws.send_bytes(samples[start : start + FRAME].astype("<f4").tobytes())
            await asyncio.sleep(0.02)  # real time, as a phone would
        await asyncio.sleep(listen)
        await ws.send_json({"type": "stop"})
        await receiver
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(bytes(answer))
    print(f"{len(answer) / 48_000:.1f} s of answer in {out}")
    return 0


def main() -> int:
    """Parse arguments and talk."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8765/ws")
    parser.add_argument("--token", required=True, help="device token from POST /api/pair")
    parser.add_argument("--wav", type=Path, help="mono 16-bit WAV to say (default: a tone)")
    parser.add_argument("--tone", type=float, default=2.0, help="seconds of tone without --wav")
    parser.add_argument("--listen", type=float, default=8.0, help="seconds to wait for answers")
    parser.add_argument("--out", type=Path, default=Path("answer.wav"))
    args = parser.parse_args()
    return asyncio.run(talk(args.url, args.token, load(args.wav, args.tone), args.out, args.listen))


if __name__ == "__main__":
    sys.exit(main())

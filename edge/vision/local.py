"""The on-device analyser: OCR (RapidOCR on ONNX Runtime) and the lexicon classifier.

Offline, free and private: the frame never leaves the computer, and the OCR models come inside
the wheel, so nothing is downloaded at run time.

What it can tell: the text, the topic the text is about, and whether study text is in view. What
it cannot tell from text alone, it answers conservatively: `isActive` is false (writing or
solving is not visible in printed text) and `isDistracted` is true only when the text itself is
a feed, a video page or a chat (see `[distraction]` in `lexicon.toml`).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from edge.files import private_dir
from edge.threads import lower_priority
from edge.vision.classify import Lexicon, Verdict, classify, load_lexicon
from edge.vision.port import ModelAnswer, VisionUnavailable

SOURCE = "on-device"


class LocalVision:
    """Reads frames with OCR on one dedicated thread; one frame at a time, never on the loop."""

    def __init__(
        self,
        *,
        cache_dir: Path,
        max_text_chars: int,
        threads: int = 2,
        lexicon: Lexicon | None = None,
    ) -> None:
        self._cache_dir = cache_dir
        self._max_text_chars = max_text_chars
        self._threads = threads
        self._lexicon = lexicon or load_lexicon()
        # Niced like the frame threads, and ONNX Runtime's own pool threads are started from
        # this thread and inherit it: a slow OCR yields the CPU to the voice relay's loop.
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="studylens-ocr", initializer=lower_priority
        )
        self._engine: Any = None

    def _load(self) -> Any:
        # Runtime caches (ONNX Runtime, OpenCV) belong in the data dir, not the user's home.
        private_dir(self._cache_dir)  # what the runtimes write there is under the CLI's umask
        os.environ["XDG_CACHE_HOME"] = str(self._cache_dir)
        try:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]
        except ImportError as exc:
            raise VisionUnavailable(
                "The on-device analyser is not installed: pip install 'studylens[ocr]'."
            ) from exc
        threads = {
            f"{stage}_{name}": value
            for stage in ("det", "cls", "rec")
            for name, value in (
                ("intra_op_num_threads", self._threads),
                ("inter_op_num_threads", 1),
            )
        }
        return RapidOCR(print_verbose=False, **threads)

    def read_text(self, jpeg: bytes) -> str:
        """OCR one frame (blocking; runs on the OCR thread)."""
        import numpy as np
        from PIL import Image

        if self._engine is None:
            self._engine = self._load()
        with Image.open(io.BytesIO(jpeg)) as image:
            pixels = np.asarray(image.convert("RGB"))
        found, _ = self._engine(pixels)
        if not found:
            return ""
        # RapidOCR answers boxes top to bottom; keep its reading order.
        return "\n".join(str(line[1]) for line in found)

    def answer(self, text: str) -> tuple[Verdict, dict[str, Any]]:
        """The analysis JSON (as the model would answer it) for OCR text."""
        verdict = classify(text, self._lexicon)
        analysis = {
            "isStudying": verdict.is_studying,
            "isActive": False,
            "isDistracted": verdict.is_distracted,
            "topic": verdict.topic,
            "subtopic": verdict.subtopic,
            "extractedText": text[: self._max_text_chars],
        }
        return verdict, analysis

    async def analyse(self, jpeg: bytes) -> ModelAnswer:
        """OCR off the loop, then classify."""
        loop = asyncio.get_running_loop()
        try:
            text = await loop.run_in_executor(self._executor, self.read_text, jpeg)
        except VisionUnavailable:
            raise
        except Exception as exc:  # an OCR failure must cost one frame, not the daemon
            # The type only: an exception's repr may name Python objects, not for a client.
            raise VisionUnavailable(f"On-device OCR failed ({type(exc).__name__}).") from exc
        verdict, analysis = self.answer(text)
        return ModelAnswer(json.dumps(analysis), SOURCE, confidence=verdict.confidence)

    async def close(self) -> None:
        """Stop the OCR thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)

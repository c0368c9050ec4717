"""Play the phone: post a sequence of frames to a StudyLens daemon and print what comes back.

Frames come from image files (`--images DIR` or files) or are drawn on the spot as pages of study
text, one topic after another, so the daemon and the model have something real to read.

Examples:
    .venv/bin/python scripts/simulate_phone.py --token=T --count 5 --interval 3   # finds it by mDNS
    .venv/bin/python scripts/simulate_phone.py --token=T --url http://192.168.1.20:8765 --images ~/f

"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFont

PAGES = {
    "Biology": [
        "Chapter 4: Cell Division",
        "Mitosis produces two genetically identical daughter cells.",
        "Prophase: chromosomes condense; the spindle forms.",
        "Metaphase: chromosomes line up at the cell's equator.",
        "Anaphase: sister chromatids move to opposite poles.",
    ],
    "Math": [
        "Section 2.3: Quadratic Equations",
        "ax^2 + bx + c = 0 has roots x = (-b +/- sqrt(b^2 - 4ac)) / 2a.",
        "The discriminant b^2 - 4ac tells how many real roots exist.",
        "Example: x^2 - 5x + 6 = 0 factors as (x - 2)(x - 3) = 0.",
    ],
    "Chemistry": [
        "Unit 6: Stoichiometry",
        "2 H2 + O2 -> 2 H2O",
        "One mole contains 6.022 x 10^23 particles.",
        "Molar mass of water: 18.02 g/mol.",
    ],
    "English": [
        "Macbeth, Act 1, Scene 7",
        "If it were done when 'tis done, then 'twere well",
        "It were done quickly.",
        "Theme: ambition and its moral cost.",
    ],
}


def page(topic: str, width: int = 1280, height: int = 960) -> bytes:
    """A photographed-looking page of study text as JPEG."""
    image = Image.new("RGB", (width, height), (236, 232, 220))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for n, line in enumerate(PAGES[topic]):
        draw.text((80, 90 + n * 70), line, fill=(25, 25, 30), font=font)
    image = image.rotate(2.5, resample=Image.Resampling.BILINEAR, fillcolor=(90, 80, 70))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def frames(sources: list[Path], count: int) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of each frame to send: files if given, else generated pages."""
    files = sorted(
        f
        for src in sources
        for f in (src.iterdir() if src.is_dir() else [src])
        if f.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}
    )
    topics = list(PAGES)
    for n in range(count):
        if files:
            path = files[n % len(files)]
            yield path.name, path.read_bytes()
        else:
            topic = topics[(n // 3) % len(topics)]  # three frames of each topic in turn
            yield f"generated {topic} page", page(topic)


def find_daemon(timeout: float = 3.0) -> str:
    """The base URL of the first daemon answering mDNS, else this computer's default port."""
    from edge.discovery import discover

    for found in asyncio.run(discover(timeout)):
        if found.addresses:
            scheme = "https" if found.txt.get("tls") else "http"
            host = found.addresses[0]
            host = f"[{host}]" if ":" in host else host
            return f"{scheme}://{host}:{found.port}"
    return "http://127.0.0.1:8765"


def main(argv: list[str] | None = None) -> int:
    """Send the frames; return a process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the daemon's base URL (default: found by mDNS)")
    parser.add_argument("--images", type=Path, nargs="*", default=[], help="files or folders")
    parser.add_argument("--count", type=int, default=6, help="how many frames to send")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between frames")
    parser.add_argument("--session-id", help="send to this session (default: the running one)")
    parser.add_argument("--token", help="device token, once the daemon requires pairing")
    args = parser.parse_args(argv)

    if args.url is None:
        args.url = find_daemon()
        print(f"found a daemon at {args.url}")
    headers = {"X-Session-Id": args.session_id} if args.session_id else {}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    failures = 0
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        for n, (label, data) in enumerate(frames(args.images, args.count)):
            if n:
                time.sleep(args.interval)
            started = time.perf_counter()
            try:
                response = client.post(
                    "/api/upload-and-analyze", files={"image": ("frame.jpg", data, "image/jpeg")}
                )
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                print(f"{n + 1:>3}  {label}: no answer from {args.url}: {exc}", file=sys.stderr)
                return 1
            elapsed = (time.perf_counter() - started) * 1000
            if not body.get("success"):
                failures += 1
                error = body.get("error", {})
                print(
                    f"{n + 1:>3}  {label}: {response.status_code} {error.get('code')}: "
                    f"{error.get('message')}  ({elapsed:.0f} ms)"
                )
                continue
            data_ = body["data"]
            analysis = data_["analysis"]
            print(
                f"{n + 1:>3}  {label}: {analysis['topic']} / {analysis['subtopic']}  "
                f"studying={analysis['isStudying']} active={analysis['isActive']} "
                f"distracted={analysis['isDistracted']} reused={data_['reused']}  "
                f"{elapsed:.0f} ms (daemon {response.headers.get('Server-Timing', '?')})"
            )
            if analysis["extractedText"]:
                print(f"       text: {analysis['extractedText'][:100]!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

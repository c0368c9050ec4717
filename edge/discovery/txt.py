"""What the daemon tells the network about itself: the service type, the advert, its TXT records.

The TXT records say which daemon it is (a stable id), which protocol it speaks, whether pairing is
open, where the API and the WebSocket live, and the TLS fingerprint to pin. Nothing private is in
the advertisement: anyone on a café network can read it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

SERVICE_TYPE = "_studylens._tcp.local."
PROTOCOL_VERSION = "1"

TXT_ENTRY_MAX_BYTES = 255  # RFC 6763 6.1: each key=value string is at most 255 bytes


@dataclass(frozen=True)
class Advert:
    """What the daemon tells the network about itself."""

    instance: str
    port: int
    device_id: str
    pairing_open: bool
    api_path: str = "/api"
    ws_path: str = "/ws"
    tls_fingerprint: str | None = None


def txt_records(advert: Advert) -> dict[str, str]:
    """The TXT records of an advert: protocol, id, pairing state, paths, and TLS pin when on."""
    records = {
        "v": PROTOCOL_VERSION,
        "id": advert.device_id,
        "pairing": "open" if advert.pairing_open else "closed",
        "api": advert.api_path,
        "ws": advert.ws_path,
    }
    if advert.tls_fingerprint is not None:
        records["tls"] = advert.tls_fingerprint
    for key, value in records.items():
        if len(f"{key}={value}".encode()) > TXT_ENTRY_MAX_BYTES:
            raise ValueError(f"TXT record {key!r} is longer than {TXT_ENTRY_MAX_BYTES} bytes")
    return records


def default_instance_name() -> str:
    """The instance name when settings name none: this computer's host name."""
    return socket.gethostname().split(".")[0] or "studylens"

"""Optional TLS: a self-signed certificate made on first start and kept, pinned by the phone.

No certificate authority vouches for a laptop on a café network, so the phone pins the SHA-256
fingerprint it learns when pairing (also published in the mDNS TXT record).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge.files import private_dir, write_private

#: Long-lived on purpose: the phone pins this certificate; a new one means pairing again.
VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class Certificate:
    """The daemon's certificate files and the fingerprint phones pin."""

    cert_path: Path
    key_path: Path
    fingerprint: str


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, as colon-separated upper-case hex."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def ensure_certificate(folder: Path) -> Certificate:
    """Load the certificate in `folder`, making it (and its key) on first use."""
    cert_path, key_path = folder / "tls-cert.pem", folder / "tls-key.pem"
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return Certificate(cert_path, key_path, fingerprint(cert))
    private_dir(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names: list[x509.GeneralName] = [
        x509.DNSName(host),
        x509.DNSName(f"{host.split('.')[0]}.local"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"StudyLens edge {host}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Both 0600: the key is the secret, and the certificate is nobody else's business either.
    write_private(key_path, key_bytes, durable=True)
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM), durable=True)
    return Certificate(cert_path, key_path, fingerprint(cert))


def server_context(certificate: Certificate) -> ssl.SSLContext:
    """A TLS 1.2+ server context for aiohttp."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate.cert_path, certificate.key_path)
    return context

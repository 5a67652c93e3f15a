"""Throwaway TLS material for local Ignite nodes (tests, development): a CA and a server
certificate for 127.0.0.1 / localhost.

:func:`make_pki` writes PEM files for Python clients (``ca.pem``, ``server.pem``,
``server-key.pem``) and a PKCS12 keystore (``server.p12``, key + certificate + CA chain) that
Java 17 and Ignite's ``SslContextFactory`` read with ``keyStoreType=PKCS12``.
Never use this for anything but local nodes: keys are unencrypted on disk.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hub.dev.cluster.config import SslFiles

__all__ = ["Pki", "make_pki"]


@dataclasses.dataclass(frozen=True)
class Pki:
    ca_cert: Path  # PEM: what clients trust (`ssl_ca_certfile`)
    server_cert: Path  # PEM
    server_key: Path  # PEM, unencrypted
    server: SslFiles  # PKCS12 keystore for the node


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "synchub local test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_pki(directory: Path, *, days: int = 2, ca_name: str = "synchub test CA") -> Pki:
    """Create a fresh CA and a server certificate (SAN 127.0.0.1, localhost) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, ca_name, start, end)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server_certificate(key, ca_key, ca_cert, start, end)
    return _write(directory, ca_cert, key, cert)


def _ca_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca_name: str, start: datetime.datetime, end: datetime.datetime
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    start: datetime.datetime,
    end: datetime.datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write(
    directory: Path, ca_cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> Pki:
    """PEM files for Python clients and the PKCS12 keystore (key, certificate, CA chain) for the node."""
    pem = serialization.Encoding.PEM
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path = directory / "server.pem"
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path = directory / "server-key.pem"
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)

    password = secrets.token_hex(12)
    p12 = pkcs12.serialize_key_and_certificates(
        b"server",
        key,
        cert,
        [ca_cert],
        serialization.BestAvailableEncryption(password.encode()),
    )
    p12_path = directory / "server.p12"
    p12_path.write_bytes(p12)
    p12_path.chmod(0o600)
    return Pki(ca_path, cert_path, key_path, SslFiles(p12_path, password))

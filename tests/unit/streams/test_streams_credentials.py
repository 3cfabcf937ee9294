"""The worker's Faust app connects over TLS and SASL when the settings say so."""

from __future__ import annotations

import ssl

import faust

from antt.settings import load_settings
from streams.app import _credentials


def test_plaintext_has_no_credentials():
    assert _credentials(load_settings()) is None


def test_sasl_ssl_carries_a_verifying_tls_context():
    creds = _credentials(load_settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="antt-worker", kafka_sasl_password="s3cret",
    ))
    assert isinstance(creds, faust.SASLCredentials)
    assert isinstance(creds.ssl_context, ssl.SSLContext)
    assert creds.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert creds.username == "antt-worker"


def test_ssl_without_sasl_is_tls_only():
    creds = _credentials(load_settings(kafka_security_protocol="SSL"))
    assert isinstance(creds, faust.SSLCredentials)

"""Kafka client options built from the settings (TLS and SASL for production)."""

from __future__ import annotations

import ssl

from antt.kafka import client_config
from antt.settings import load_settings


def test_plaintext_has_no_tls_and_splits_bootstrap():
    config = client_config(load_settings(kafka_bootstrap="a:9092,b:9092"))
    assert config["bootstrap_servers"] == ["a:9092", "b:9092"]
    assert "ssl_context" not in config and "sasl_mechanism" not in config


def test_sasl_ssl_gets_a_verifying_tls_context_and_credentials():
    settings = load_settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="antt-worker", kafka_sasl_password="s3cret",
    )
    config = client_config(settings)
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    assert config["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert config["sasl_plain_username"] == "antt-worker"
    assert config["sasl_plain_password"] == "s3cret"

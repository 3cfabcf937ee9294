"""Kafka connection settings and topic creation shared by the worker, sink, gateway and CLI."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from antt.settings import Settings

log = logging.getLogger(__name__)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL / SASL_SSL listeners (CA from ``ANTT_KAFKA_SSL_CAFILE``)."""
    if "SSL" not in settings.kafka_security_protocol.upper():
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection options understood by both kafka-python and aiokafka."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        password = settings.kafka_sasl_password
        config["sasl_plain_password"] = password.get_secret_value() if password else None
    return config


def ensure_topics(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Create the event and dead-letter topics (or ``names``) if missing; returns those created.

    Partitions and replication come from the settings; existing topics are left as they are.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = names or [settings.events_topic, settings.dlq_topic]
    admin = KafkaAdminClient(**client_config(settings), client_id="antt-admin")
    try:
        existing = set(admin.list_topics())
        missing = [n for n in wanted if n not in existing]
        if missing:
            topics = [
                NewTopic(n, settings.topic_partitions, settings.topic_replication) for n in missing
            ]
            try:
                admin.create_topics(topics)
            except TopicAlreadyExistsError:
                pass  # created concurrently by another process: fine
            log.info("created topics %s", missing)
        return missing
    finally:
        admin.close()

"""One place that builds clickhouse-connect clients from the settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from antt.settings import Settings


def make_client(settings: Settings, *, database: str | None = None, **kwargs: Any) -> Client:
    """A client for ``settings.clickhouse_url`` (database optional: it may not exist yet)."""
    url = urlparse(settings.clickhouse_url)
    secure = url.scheme == "https"
    params: dict[str, Any] = {
        "host": url.hostname or "127.0.0.1",
        "port": url.port or (8443 if secure else 8123),
        "secure": secure,
        "username": settings.clickhouse_user,
        "password": settings.clickhouse_password.get_secret_value(),
        "connect_timeout": 5,
        "send_receive_timeout": 60,
        "autogenerate_session_id": False,
        "compress": False,
    }
    if database:
        params["database"] = database
    params.update(kwargs)
    return clickhouse_connect.get_client(**params)

"""Settings handed to a child process through the environment come back identical."""

from __future__ import annotations

import pytest

from antt.settings import Settings, as_env, load_settings


def test_settings_round_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch):
    original = load_settings(worker_web_port=1234, kafka_sasl_password="s3cret",
                             social_order_crime_groups=("property", "drugs"),
                             clickhouse_cluster="antt")
    for name, value in as_env(original).items():
        monkeypatch.setenv(name, value)
    assert Settings() == original

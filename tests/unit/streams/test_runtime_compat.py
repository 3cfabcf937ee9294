"""The start-up check of the private Faust/aiokafka internals the worker relies on."""

from __future__ import annotations

import aiokafka
import faust
import pytest
from faust.transport.consumer import Consumer

from streams.compat import IncompatibleLibraryError, check_internals, missing_internals


def test_installed_versions_have_both_internals() -> None:
    assert missing_internals(Consumer, aiokafka.AIOKafkaConsumer) == []
    check_internals()


class RenamedFaust:
    def __init__(self) -> None:
        self._committed_offsets: dict = {}  # renamed
        self._last_read: dict = {}  # renamed


class FaustNotReadingReadOffsets:
    def __init__(self) -> None:
        self._committed_offset: dict = {}
        self._read_offset: dict = {}

    async def _drain_messages(self) -> None:  # filters on something else
        return None


class RenamedAiokafka:
    def __init__(self, fetch_max_wait_ms: int = 500) -> None:
        self._fetch_wait_ms = fetch_max_wait_ms  # renamed

    async def start(self) -> None:
        return None


class NotReadAiokafka:
    def __init__(self) -> None:
        self._fetch_max_wait_ms = 500

    async def start(self) -> None:  # builds its fetcher from something else
        return None


def test_a_renamed_attribute_fails_at_start_with_the_versions() -> None:
    with pytest.raises(IncompatibleLibraryError) as info:
        check_internals(RenamedFaust, RenamedAiokafka)
    text = str(info.value)
    assert f"faust-streaming {faust.__version__}" in text
    assert f"aiokafka {aiokafka.__version__}" in text
    assert "_committed_offset" in text and "_fetch_max_wait_ms" in text
    assert "_read_offset" in text


def test_a_read_offset_the_fetch_loop_no_longer_reads_is_reported() -> None:
    assert missing_internals(FaustNotReadingReadOffsets, aiokafka.AIOKafkaConsumer) == [
        f"{__name__}.FaustNotReadingReadOffsets._read_offset (read in _drain_messages)"
    ]


def test_an_attribute_no_longer_read_by_the_fetcher_is_reported() -> None:
    assert missing_internals(Consumer, NotReadAiokafka) == [
        f"{__name__}.NotReadAiokafka._fetch_max_wait_ms (read in start())"
    ]

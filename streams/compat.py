"""Start-up checks for the private Faust/aiokafka internals the worker relies on.

Three private attributes are used, and a rename in a new release would fail quietly:

- ``faust.transport.consumer.Consumer._committed_offset`` (Faust's map of committed offsets,
  read by the agent's hole check, ``streams/agents/delivery.py``): a rename would stop the
  agent with an AttributeError mid-stream;
- ``faust.transport.consumer.Consumer._read_offset`` (its last read offset per partition,
  replaced for the events topic by ``streams/transport.py``, and read by its fetch loop,
  ``_drain_messages``): a rename would bring back dropped re-fetched records (stalls until
  the watchdog) and gaps committed as acknowledged, without any error;
- ``aiokafka.AIOKafkaConsumer._fetch_max_wait_ms`` (set by ``streams/transport.py`` before
  the fetcher starts): a rename would leave an unused attribute and bring back Faust's 1.5 s
  fetch wait without any error.

:func:`check_internals` looks for them in the installed libraries' code (set in the
constructor, and for the fetch wait also read where the fetcher is built) and raises
:class:`IncompatibleLibraryError`, naming the versions, at start-up instead.
"""

from __future__ import annotations

import inspect
import re
from typing import Any


class IncompatibleLibraryError(RuntimeError):
    """An installed Faust/aiokafka lacks an internal the worker relies on."""


def _sets(cls: type, method: str, attribute: str) -> bool:
    try:
        source = inspect.getsource(getattr(cls, method))
    except (AttributeError, OSError, TypeError):
        return False
    return re.search(rf"\bself\.{attribute}\b", source) is not None


def missing_internals(faust_consumer: type, aiokafka_consumer: type) -> list[str]:
    """What of the relied-on internals the given classes lack (empty: all present)."""
    missing = []
    if not _sets(faust_consumer, "__init__", "_committed_offset"):
        missing.append(f"{faust_consumer.__module__}.{faust_consumer.__name__}"
                       "._committed_offset (set in __init__)")
    if not _sets(faust_consumer, "__init__", "_read_offset"):
        missing.append(f"{faust_consumer.__module__}.{faust_consumer.__name__}"
                       "._read_offset (set in __init__)")
    elif not _sets(faust_consumer, "_drain_messages", "_read_offset"):
        missing.append(f"{faust_consumer.__module__}.{faust_consumer.__name__}"
                       "._read_offset (read in _drain_messages)")
    if not _sets(aiokafka_consumer, "__init__", "_fetch_max_wait_ms"):
        missing.append(f"{aiokafka_consumer.__module__}.{aiokafka_consumer.__name__}"
                       "._fetch_max_wait_ms (set in __init__)")
    elif not _sets(aiokafka_consumer, "start", "_fetch_max_wait_ms"):
        missing.append(f"{aiokafka_consumer.__module__}.{aiokafka_consumer.__name__}"
                       "._fetch_max_wait_ms (read in start())")
    return missing


def check_internals(faust_consumer: Any = None, aiokafka_consumer: Any = None) -> None:
    """Raise :class:`IncompatibleLibraryError` unless the libraries have both internals."""
    import aiokafka
    import faust
    from faust.transport.consumer import Consumer

    missing = missing_internals(faust_consumer or Consumer,
                                aiokafka_consumer or aiokafka.AIOKafkaConsumer)
    if missing:
        raise IncompatibleLibraryError(
            f"faust-streaming {faust.__version__} / aiokafka {aiokafka.__version__} lack "
            f"{'; '.join(missing)}. antt's worker is tested with faust-streaming 0.15.3 and "
            "aiokafka 0.14.0: install those versions or adapt streams/transport.py and "
            "streams/compat.py"
        )


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """Faust's last committed offset of ``tp`` (``None``: not known here)."""
    return consumer._committed_offset.get(tp)

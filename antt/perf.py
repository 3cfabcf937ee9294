"""Small performance helpers shared by the hot paths (validation, sink column building) and
the worker's memory (glibc allocator thresholds)."""

from __future__ import annotations

import ctypes
import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers (glibc <malloc.h>).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch's many small objects are built.

    Models, dicts, datetimes, UUIDs and row tuples are all GC-tracked: left on, the collector
    runs dozens of times per 1000-event batch and halves validation throughput
    (bench/validate_bench.py); building 50,000 sink rows took ~1.9x as long. Objects are still
    reference-counted as usual; the collector simply runs later. If the caller had disabled
    the GC, it stays disabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def fix_malloc_thresholds(threshold: int) -> bool:
    """Fix glibc's mmap and trim thresholds at ``threshold`` bytes (0: leave them alone).

    By default glibc raises its mmap threshold (up to 32 MiB) each time a block it had
    mmapped is freed: after the first few source records (a few hundred KB each) are freed,
    every later record, parse buffer and checkpoint chunk is carved from the brk heap instead,
    between long-lived objects, and that heap never shrinks. Fixed thresholds (which also turn
    the adjustment off) keep large transient blocks in their own mmaps, returned on free, and
    trim the heap top: the worker's RSS with the full national key space went from 411-415 to
    356-358 MB (bench/memory_profile.py). Same effect as the environment variable
    ``MALLOC_MMAP_THRESHOLD_``. Returns False when the C library has no ``mallopt`` (not glibc).
    """
    if threshold <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        log.info("no mallopt in this C library: allocator thresholds left as they are")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, threshold) == 1 and mallopt(M_TRIM_THRESHOLD, threshold) == 1
    if not done:
        log.warning("mallopt refused threshold %d: allocator thresholds left as they are",
                    threshold)
    return done

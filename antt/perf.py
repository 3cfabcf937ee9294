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
TRIM_THRESHOLD = 32 * 1024 * 1024


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


def fix_malloc_thresholds(threshold: int, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes (0: leave glibc's adaptive default).

    By default glibc raises its mmap threshold (up to 32 MiB) each time a block it had
    mmapped is freed: after the first few source records (a few hundred KB each) are freed,
    every later record, parse buffer and checkpoint chunk is carved from the brk heap instead,
    between long-lived objects, and that heap never shrinks. A fixed threshold (which also
    turns the adjustment off) keeps large transient blocks in their own mmaps, returned on
    free: the worker's RSS with the full national key space went from 411-416 to 355-358 MB
    (bench/memory_profile.py). The trim threshold is fixed too (it is adaptive the same way),
    at ``trim_threshold``: 32 MiB, glibc's own ceiling; at 128 KiB the heap top was given back
    and re-faulted so often that the worker counted 10-15 % fewer events per CPU second.
    Same as the environment variables ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``.
    Returns False when nothing was changed (0, or a C library without ``mallopt``).
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
    done = (mallopt(M_MMAP_THRESHOLD, threshold) == 1
            and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1)
    if not done:
        log.warning("mallopt refused thresholds %d/%d: allocator left as it is", threshold,
                    trim_threshold)
    return done

"""Which event_ids ClickHouse already holds, cached per (province, local date).

Duplicates share their event's ``occurred_at``, hence its local date (a day number, see
:func:`sinks.rows.local_days`; ids are ``uuid.int`` integers, hashed in C): the sink asks ClickHouse
once for all ids of a (province, date) pair (a primary-key range of ``events_raw``), then keeps
the set up to date with what it inserts itself. Only the owner of a partition writes its
provinces, so the cache stays exact until partitions move; it is cleared on every rebalance
and after any failed insert. Size is bounded: least recently used pairs are dropped.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import not_
from typing import Any

Key = tuple[str, Any]  # (province, local day: a day number, or any hashable)
_NONE: set[Any] = set()  # stands for a pair not in the cache (never modified)


class KnownIds:
    def __init__(self, max_ids: int = 3_000_000) -> None:
        self.max_ids = max_ids
        self.pairs: OrderedDict[Key, set[Any]] = OrderedDict()
        self.size = 0

    def missing(self, keys: Iterable[Key]) -> list[Key]:
        return sorted(set(keys).difference(self.pairs))

    def unknown(self, keys: Sequence[Key], ids: Sequence[Any]) -> list[int]:
        """Indices ``i`` whose ``ids[i]`` the cached pair ``keys[i]`` does not hold (a pair
        not cached holds nothing). Marks the pairs as recently used."""
        for key in set(keys).intersection(self.pairs):
            self.pairs.move_to_end(key)
        held = map(set.__contains__, map(self.pairs.get, keys, repeat(_NONE)), ids)
        return list(compress(range(len(ids)), map(not_, held)))

    def add_all(self, keys: Sequence[Key], ids: Sequence[Any]) -> None:
        """:meth:`add` for every ``(keys[i], ids[i])``."""
        cached = set(keys).intersection(self.pairs)
        before = sum(len(self.pairs[k]) for k in cached)
        spill: set[Any] = set()  # ids of pairs not cached: dropped
        deque(map(set.add, map(self.pairs.get, keys, repeat(spill)), ids), maxlen=0)
        self.size += sum(len(self.pairs[k]) for k in cached) - before

    def load(self, key: Key, ids: Iterable[Any]) -> None:
        old = self.pairs.pop(key, None)
        self.size -= len(old) if old else 0
        self.pairs[key] = found = set(ids)
        self.size += len(found)
        self._trim()

    def contains(self, key: Key, event_id: Any) -> bool:
        found = self.pairs.get(key)
        if found is None:
            return False
        self.pairs.move_to_end(key)
        return event_id in found

    def add(self, key: Key, event_id: Any) -> None:
        found = self.pairs.get(key)
        if found is not None and event_id not in found:
            found.add(event_id)
            self.size += 1

    def forget(self, keys: Iterable[Key]) -> None:
        for key in set(keys):
            old = self.pairs.pop(key, None)
            self.size -= len(old) if old else 0

    def clear(self) -> None:
        self.pairs.clear()
        self.size = 0

    def _trim(self) -> None:
        while self.size > self.max_ids and len(self.pairs) > 1:
            _key, dropped = self.pairs.popitem(last=False)
            self.size -= len(dropped)

"""Persistent maps and sets: an update makes a new value that shares almost all of the old one.

``step`` must never change the execution state it is given, and an execution holds one
thread, task token and timer per Map item: copying such dicts on every step made a task
result cost time in proportion to the items (a 10,000-item Map: 0.5 ms a result). A
:class:`PMap` is a trie of two 64-slot levels over a hash of the key, with small dict buckets
as leaves; a change copies two nodes and one bucket whatever the size, and everything else is
shared with the map it came from. Nodes and buckets are never changed once built.

Iteration order is fixed by the keys alone (the hash of a string is CRC-32, not Python's
salted ``hash``), so the same state gives the same commands in every process. In JSON a PMap
is an object and a :class:`PSet` an array, as the dicts and sets they replace were.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, KeysView, Mapping
from itertools import chain, compress
from operator import is_not
from typing import Any, Final, Generic, TypeVar, cast, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

K = TypeVar("K")
V = TypeVar("V")

_BITS = 6
_WIDTH = 1 << _BITS
_SLOT = _WIDTH - 1

# A node is a tuple of _WIDTH slots; the root's slots hold second-level nodes, whose slots
# hold buckets (dicts). Empty ones are the shared _NO_BUCKET and _NO_NODE, so a lookup is
# two indexings and a dict lookup with no test on the way.
_Bucket = dict[Any, Any]
_NO_BUCKET: Final[_Bucket] = {}
_Node = tuple[_Bucket, ...]
_NO_NODE: Final[_Node] = (_NO_BUCKET,) * _WIDTH
_Root = tuple[_Node, ...]
_NO_ROOT: Final[_Root] = (_NO_NODE,) * _WIDTH


class _Gone:
    """The marker of a key removed by :meth:`PMap.evolve`."""

    def __repr__(self) -> str:
        return "GONE"


GONE: Final = _Gone()
_MISSING: Final = object()


def _hash(key: Any) -> int:
    # Thread ids and item indexes are small sequential integers: they spread evenly as they are.
    if type(key) is int:
        return key
    if type(key) is str:
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    return hash(key)


def _replaced(node: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
    """``node`` with slot ``index`` set to ``value`` (a new tuple)."""
    slots = list(node)
    slots[index] = value
    return tuple(slots)


class PMap(Mapping[K, V]):
    """An immutable mapping whose updates (:meth:`set`, :meth:`discard`, :meth:`evolve`) return
    a new map in time independent of its size."""

    __slots__ = ("_len", "_root")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._root: _Root = _NO_ROOT
        self._len = 0
        pairs = items.items() if isinstance(items, Mapping) else items
        changes = dict(pairs)
        if changes:
            built = _EMPTY.evolve(changes)
            self._root, self._len = built._root, built._len

    @staticmethod
    def empty() -> PMap[Any, Any]:
        """The empty map (one shared instance)."""
        return _EMPTY

    @classmethod
    def _make(cls, root: _Root, length: int) -> PMap[K, V]:
        made: PMap[K, V] = cls.__new__(cls)
        made._root, made._len = (root, length) if length else (_NO_ROOT, 0)
        return made

    # -- reading -------------------------------------------------------------------------------

    def _bucket(self, key: Any) -> _Bucket:
        h = key if type(key) is int else _hash(key)
        return self._root[h & _SLOT][(h >> _BITS) & _SLOT]

    def __getitem__(self, key: K) -> V:
        return cast(V, self._bucket(key)[key])

    def get(self, key: K, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self._bucket(key).get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._bucket(key)

    def __len__(self) -> int:
        return self._len

    def _buckets(self) -> list[_Bucket]:
        if not self._len:  # most maps of a small execution are empty: skip the 64 slots
            return []
        return [bucket for node in self._root if node is not _NO_NODE for bucket in node if bucket]

    def __iter__(self) -> Iterator[K]:
        return chain.from_iterable(self._buckets())

    def keys(self) -> KeysView[K]:
        """The keys, as a set-like view whose set operations run at C speed."""
        return _Keys(self)

    def items_list(self) -> list[tuple[K, V]]:
        """Every (key, value) pair, in the map's order."""
        return list(chain.from_iterable(bucket.items() for bucket in self._buckets()))

    def as_dict(self) -> dict[K, V]:
        """A dict of the same pairs (in the map's order)."""
        result: dict[K, V] = {}
        for bucket in self._buckets():
            result.update(bucket)
        return result

    def key_set(self) -> frozenset[K]:
        """The keys as a frozenset (built in C, bucket by bucket)."""
        return frozenset().union(*self._buckets())

    def __repr__(self) -> str:
        return f"PMap({self.as_dict()!r})"

    # -- updating ------------------------------------------------------------------------------

    def set(self, key: K, value: V) -> PMap[K, V]:
        """A map with ``key`` set to ``value``: two nodes and a bucket copied, in C."""
        h = cast(int, key) if type(key) is int else _hash(key)
        i, j = h & _SLOT, (h >> _BITS) & _SLOT
        node = self._root[i]
        bucket = node[j]
        length = self._len if key in bucket else self._len + 1
        bucket = {**bucket, key: value}
        return type(self)._make(_replaced(self._root, i, _replaced(node, j, bucket)), length)

    def discard(self, key: K) -> PMap[K, V]:
        """A map without ``key`` (this one when it has no such key)."""
        h = cast(int, key) if type(key) is int else _hash(key)
        i, j = h & _SLOT, (h >> _BITS) & _SLOT
        node = self._root[i]
        bucket = node[j]
        if key not in bucket:
            return self
        smaller = dict(bucket)
        del smaller[key]
        node = _replaced(node, j, smaller or _NO_BUCKET)
        if not smaller and node == _NO_NODE:
            node = _NO_NODE
        return type(self)._make(_replaced(self._root, i, node), self._len - 1)

    def evolve(self, changes: Mapping[K, V | _Gone]) -> PMap[K, V]:
        """A map with every change applied: a value sets its key, :data:`GONE` removes it.

        Each node and bucket on the way to a changed key is copied once, however many of its
        keys change.
        """
        if not changes:
            return self
        root: list[Any] = list(self._root)
        nodes: dict[int, list[Any]] = {}
        buckets: dict[tuple[int, int], _Bucket] = {}
        length = self._len
        for key, value in changes.items():
            h = cast(int, key) if type(key) is int else _hash(key)
            i, j = h & _SLOT, (h >> _BITS) & _SLOT
            node = nodes.get(i)
            if node is None:
                node = nodes[i] = list(root[i])
            bucket = buckets.get((i, j))
            if bucket is None:
                bucket = buckets[(i, j)] = dict(node[j])
                node[j] = bucket
            if value is GONE:
                if bucket.pop(key, _MISSING) is not _MISSING:
                    length -= 1
            else:
                if key not in bucket:
                    length += 1
                bucket[key] = value
        for (i, j), bucket in buckets.items():
            if not bucket:
                nodes[i][j] = _NO_BUCKET
        for i, node in nodes.items():
            frozen = tuple(node)
            root[i] = _NO_NODE if frozen == _NO_NODE else frozen
        return type(self)._make(tuple(root), length)

    def changes_from(self, old: PMap[K, V]) -> tuple[list[K], list[K]]:
        """(keys added or given another value, keys removed) since ``old``.

        Nodes and buckets this map shares with ``old`` are skipped without being read, so the
        cost follows the changes, not the size: what a store needs to write only those.
        """
        changed: list[K] = []
        removed: list[K] = []
        if self._root is old._root:
            return changed, removed
        # The shared slots are skipped at C speed (compress/map), not by a Python loop over
        # all 64: a step changes one or two slots of maps that hold a few entries.
        new_root, old_root = self._root, old._root
        for new_node, old_node in compress(
            zip(new_root, old_root, strict=True), map(is_not, new_root, old_root)
        ):
            for new_bucket, old_bucket in compress(
                zip(new_node, old_node, strict=True), map(is_not, new_node, old_node)
            ):
                changed.extend(
                    key
                    for key, value in new_bucket.items()
                    if old_bucket.get(key, _MISSING) is not value
                )
                removed.extend(key for key in old_bucket if key not in new_bucket)
        return changed, removed

    # -- pydantic ------------------------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        key, value = get_args(source) or (Any, Any)
        as_dict = handler.generate_schema(dict[key, value])  # type: ignore[valid-type]
        from_dict = core_schema.no_info_after_validator_function(cls, as_dict)
        accepted: list[core_schema.CoreSchema | tuple[core_schema.CoreSchema, str]] = [from_dict]
        if key is int:
            # A list is read as a map from each index (the stored form of older results).
            as_list = handler.generate_schema(list[value])  # type: ignore[valid-type]
            accepted.append(core_schema.no_info_after_validator_function(_from_list(cls), as_list))
        return core_schema.json_or_python_schema(
            json_schema=core_schema.union_schema(accepted),
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), *accepted]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda m: m.as_dict(), return_schema=as_dict
            ),
        )


class _Keys(KeysView[K]):
    """A PMap's keys: set operations build frozensets in C instead of testing key by key."""

    _mapping: PMap[K, Any]

    def __iter__(self) -> Iterator[K]:
        return iter(self._mapping)

    def __sub__(self, other: Iterable[Any]) -> frozenset[K]:  # type: ignore[override]
        return self._mapping.key_set() - _as_set(other)

    def __and__(self, other: Iterable[Any]) -> frozenset[K]:  # type: ignore[override]
        return self._mapping.key_set() & _as_set(other)

    def __or__(self, other: Iterable[Any]) -> frozenset[Any]:  # type: ignore[override]
        return self._mapping.key_set() | _as_set(other)


def _as_set(items: Iterable[Any]) -> frozenset[Any] | set[Any]:
    if isinstance(items, set | frozenset):
        return items
    if isinstance(items, _Keys):
        return items._mapping.key_set()
    return frozenset(items)


def _from_list(cls: type[PMap[Any, Any]]) -> Callable[[list[Any]], PMap[Any, Any]]:
    return lambda items: cls(enumerate(items))


_EMPTY: PMap[Any, Any] = PMap.__new__(PMap)
_EMPTY._root, _EMPTY._len = _NO_ROOT, 0


class PSet(Generic[K]):
    """An immutable set on a :class:`PMap`: :meth:`add` and :meth:`discard` return a new set."""

    __slots__ = ("_map",)

    def __init__(self, items: Iterable[K] = ()) -> None:
        self._map: PMap[K, bool] = PMap((item, True) for item in items)

    @staticmethod
    def empty() -> PSet[Any]:
        """The empty set (one shared instance)."""
        return _EMPTY_SET

    @classmethod
    def _of(cls, mapping: PMap[K, bool]) -> PSet[K]:
        made: PSet[K] = cls.__new__(cls)
        made._map = mapping
        return made

    def __contains__(self, item: object) -> bool:
        return item in self._map

    def __iter__(self) -> Iterator[K]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __bool__(self) -> bool:
        return len(self._map) > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PSet):
            return set(self) == set(other)
        if isinstance(other, set | frozenset):
            return set(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PSet({sorted(self, key=repr)!r})"

    def add(self, item: K) -> PSet[K]:
        """A set with ``item`` in it."""
        return self if item in self._map else PSet._of(self._map.set(item, True))

    def discard(self, item: K) -> PSet[K]:
        """A set without ``item``."""
        return PSet._of(self._map.discard(item)) if item in self._map else self

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        (item,) = get_args(source) or (Any,)
        as_list = handler.generate_schema(list[item])  # type: ignore[valid-type]
        from_list = core_schema.no_info_after_validator_function(cls, as_list)
        return core_schema.json_or_python_schema(
            json_schema=from_list,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_list]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                list, return_schema=as_list
            ),
        )


_EMPTY_SET: PSet[Any] = PSet._of(_EMPTY)


class Draft(Generic[K, V]):
    """A PMap being changed: reads see the changes made so far, :meth:`freeze` makes the map.

    One step's working copy of the threads, tokens or timers: it costs nothing to start,
    and freezing copies only the nodes of the keys that changed.
    """

    __slots__ = ("base", "changes")

    def __init__(self, base: PMap[K, V]) -> None:
        self.base = base
        self.changes: dict[K, V | _Gone] = {}

    def get(self, key: K, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        value = self.changes.get(key, _MISSING)
        if value is _MISSING:
            return self.base._bucket(key).get(key, default)
        return default if value is GONE else value

    def __contains__(self, key: K) -> bool:
        value = self.changes.get(key, _MISSING)
        if value is _MISSING:
            return key in self.base._bucket(key)
        return value is not GONE

    def __getitem__(self, key: K) -> V:
        value = self.changes.get(key, _MISSING)
        if value is _MISSING:
            return cast(V, self.base._bucket(key)[key])
        if value is GONE:
            raise KeyError(key)
        return cast(V, value)

    def __setitem__(self, key: K, value: V) -> None:
        self.changes[key] = value

    def pop(self, key: K, default: Any = None) -> Any:
        """Remove ``key``; its value, or ``default`` when there was none."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        self.changes[key] = GONE
        return value

    def __iter__(self) -> Iterator[K]:
        """Every key, the unchanged ones in the map's order, then the new ones."""
        yield from (key for key in self.base if key not in self.changes)
        yield from (key for key, value in self.changes.items() if value is not GONE)

    def clear(self) -> None:
        """Remove every key."""
        self.base = _EMPTY
        self.changes = {}

    def freeze(self) -> PMap[K, V]:
        """The map with the changes applied."""
        return self.base.evolve(self.changes)

"""`Registry`: named entries in registration order, the one shape of every registry here.

Model kinds (models/registry.py), data sources and folder formats (training/data/sources.py), the
CLI's sub-commands (training/cli/commands/) and the exploration panels (explorer/panels/) are each
one `Registry`, as torchvision's `register_model` / `list_models` / `get_model` keep its models.

No torch, numpy or Qt here or in what it imports: the GUI and `--help` read registries before
torch has loaded. An entry that needs heavy code names it as a "module:attribute" path that
`resolve` imports on first use, so registering it costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_MISSING: Any = object()


class Registry(MutableMapping, Generic[T]):
    """Entries by name: `register` refuses a name twice, `get` names the choices of an unknown
    one, `list` and `names` keep registration order.

    It is also a mapping (`in`, `[name]`, iteration over the names), so a test can add an entry
    for its own duration with `monkeypatch.setitem(registry, name, entry)`; `[name] = entry`
    replaces without the duplicate check, which is `register`'s job.
    """

    def __init__(self, what: str) -> None:
        self.what = what  # what an entry is, for messages: 'model kind', 'dataset', ...
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        """Add `entry` as `name` (which must be new); returns the entry."""
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def get(self, name: str, default: Any = _MISSING) -> T:
        """The entry called `name`; ValueError naming the choices for an unknown one (or
        `default` when given, as `Mapping.get` does)."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):  # TypeError: an unhashable value from a bad config file
            if default is not _MISSING:
                return default
            raise ValueError(f"unknown {self.what} {name!r}; choose one of "
                             f"{', '.join(self._entries)}") from None

    def names(self) -> tuple[str, ...]:
        """Every name, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:  # unhashable: no entry has that name
            return False

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._entries)})"

    def list(self) -> list[T]:  # the registries' verb, as timm's list_models
        """Every entry, in registration order."""
        return list(self._entries.values())


def resolve(path: str) -> Any:
    """The object a "package.module:attribute" path names, importing the module."""
    module, sep, attribute = path.partition(":")
    if not (module and sep and attribute):
        raise ValueError(f"{path!r} is not a 'module:attribute' path")
    obj: Any = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


__all__ = ["Registry", "resolve"]

"""Frozen records: the part of `@dataclass(frozen=True)` the engine uses, made cheaply.

`dataclasses` costs otpgen's start more than any other module its commands need: it
imports `inspect` (and with it `ast`, `dis` and `tokenize`), and it builds each class's
methods by compiling source text, about half a millisecond a class, for some twenty
classes on the path of `new`. `@frozen` gives a class the same behaviour — construction
by position or keyword with defaults (`field(default_factory=...)` included), fields that
cannot be assigned, equality and hashing by the compared fields in order, a repr —
through methods that every record shares, so making a record class costs a few dict
operations. Type checkers treat it as a frozen dataclass (`dataclass_transform`).
"""

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")
C = TypeVar("C", bound=type)

_MISSING: Any = object()


class _Field:
    __slots__ = ("compare", "default", "factory")

    def __init__(
        self, default: object, factory: Callable[[], object] | None, compare: bool
    ) -> None:
        self.default = default
        self.factory = factory
        self.compare = compare


@overload
def field(*, default: T, compare: bool = True) -> T: ...
@overload
def field(*, default_factory: Callable[[], T], compare: bool = True) -> T: ...
def field(
    *,
    default: object = _MISSING,
    default_factory: Callable[[], object] | None = None,
    compare: bool = True,
) -> Any:
    """A field's default made afresh for each record, or a field left out of comparisons."""
    return _Field(default, default_factory, compare)


class FrozenInstanceError(AttributeError):
    """A record's field was assigned or deleted."""


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: C) -> C:
    """Make `cls`, a class of annotated fields, a frozen record."""
    # The class's own annotations (inspect.get_annotations would import inspect).
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    names = tuple(n for n in own if not str(own[n]).startswith(("ClassVar", "typing.ClassVar")))
    defaults: dict[str, _Field] = {}
    compared = []
    for name in names:
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, _Field) else _Field(value, None, True)
        if isinstance(value, _Field):
            if value.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, value.default)
        if spec.default is not _MISSING or spec.factory is not None:
            defaults[name] = spec
        elif defaults:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        if spec.compare:
            compared.append(name)
    setattr(cls, "_record_fields", names)  # noqa: B010 - mypy cannot see them otherwise
    setattr(cls, "_record_defaults", defaults)  # noqa: B010
    setattr(cls, "_record_compared", tuple(compared))  # noqa: B010
    setattr(cls, "__match_args__", names)  # noqa: B010
    for method in (_init, _repr, _eq, _hash, _setattr, _delattr):
        setattr(cls, method.__name__.replace("_", "__", 1) + "__", method)
    return cls


def replace(obj: T, **changes: object) -> T:
    """A copy of the record `obj` with some fields changed."""
    values = {name: getattr(obj, name) for name in obj._record_fields}  # type: ignore[attr-defined]
    return type(obj)(**(values | changes))


def _init(self: Any, *args: object, **kwargs: object) -> None:
    cls = type(self)
    names = cls._record_fields
    if len(args) > len(names):
        raise TypeError(f"{cls.__name__}() takes {len(names)} arguments but {len(args)} were given")
    values = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
        values[name] = value
    defaults = cls._record_defaults
    for name in names:
        if name in values:
            value = values[name]
        elif name in defaults:
            spec = defaults[name]
            value = spec.factory() if spec.factory is not None else spec.default
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
        object.__setattr__(self, name, value)


def _repr(self: Any) -> str:
    fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._record_fields)
    return f"{type(self).__qualname__}({fields})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    # As dataclasses do: tuples, which compare items by identity first (a NaN equals itself).
    compared = self._record_compared
    return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, name) for name in self._record_compared))


def _setattr(self: Any, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")

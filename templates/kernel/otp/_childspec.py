"""ChildSpec: how a supervisor starts, restarts and stops one child."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ._errors import ChildSpecError
from ._via import Via, _new_via

if TYPE_CHECKING:
    from ._genserver import GenServer
    from ._registry import Registry


class Restart(enum.Enum):
    """When a supervisor restarts a child that exited."""

    PERMANENT = "permanent"
    """Always: the child should always run (most workers)."""
    TRANSIENT = "transient"
    """Only after a crash, not a normal or shutdown exit (work that can finish)."""
    TEMPORARY = "temporary"
    """Never; its spec is forgotten when it exits (one-off work)."""


class ChildType(enum.Enum):
    """A worker or a supervisor (a supervisor's shutdown defaults to infinity)."""

    WORKER = "worker"
    SUPERVISOR = "supervisor"


class Strategy(enum.Enum):
    """What a supervisor restarts when one child crashes."""

    ONE_FOR_ONE = "one_for_one"
    """Only that child: the children are independent."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: they cannot work without each other."""
    REST_FOR_ONE = "rest_for_one"
    """That child and the ones started after it (later children depend on earlier)."""


PERMANENT: Final = Restart.PERMANENT
TRANSIENT: Final = Restart.TRANSIENT
TEMPORARY: Final = Restart.TEMPORARY
WORKER: Final = ChildType.WORKER
SUPERVISOR: Final = ChildType.SUPERVISOR
ONE_FOR_ONE: Final = Strategy.ONE_FOR_ONE
ONE_FOR_ALL: Final = Strategy.ONE_FOR_ALL
REST_FOR_ONE: Final = Strategy.REST_FOR_ONE


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start one child and what to do when it exits.

    `start` is a no-argument async callable that starts the child and returns it (for
    a GenServer subclass, `Worker.child_spec(...)` builds the spec for you).
    `shutdown` is how many seconds the child gets to run `terminate` when its supervisor
    stops it, before it is cancelled; 0 cancels it at once (brutal kill); None waits as
    long as it takes, which is right for supervisors (their children have budgets).
    """

    id: Hashable
    start: Callable[[], Awaitable[GenServer]]
    restart: Restart = PERMANENT
    shutdown: float | None = 5.0
    type: ChildType = WORKER

    def __init__(
        self,
        id: Hashable,
        start: Callable[[], Awaitable[GenServer]],
        restart: Restart = PERMANENT,
        shutdown: float | None = 5.0,
        type: ChildType = WORKER,
    ) -> None:
        # What dataclass writes for a frozen class sets each field through
        # object.__setattr__; the slots' own descriptors do the same in about half the
        # instructions, and a dynamic supervisor builds a spec per child it starts.
        _set_id(self, id)
        _set_start(self, start)
        _set_restart(self, restart)
        _set_shutdown(self, shutdown)
        _set_type(self, type)
        self.__post_init__()

    def __post_init__(self) -> None:
        # A dynamic supervisor builds a spec per child it starts, so the common case
        # (enum members, a float or None) is checked first by exact type, and the
        # messages format the id only on errors (the repr of a via name costs more
        # than the checks).
        try:
            hash(self.id)
        except TypeError:
            raise ChildSpecError(f"ChildSpec id must be hashable, got: {self.id!r}") from None
        if not callable(self.start):
            what = f"ChildSpec {self.id!r}: start"
            raise ChildSpecError(f"{what} must be an async callable, got: {self.start!r}")
        if type(self.restart) is not Restart:
            raise ChildSpecError(
                f"ChildSpec {self.id!r}: restart must be one of PERMANENT, TRANSIENT, "
                f"TEMPORARY, got: {self.restart!r}"
            )
        shutdown = self.shutdown
        if shutdown is not None and (
            (
                type(shutdown) is not float
                and type(shutdown) is not int
                and (isinstance(shutdown, bool) or not isinstance(shutdown, int | float))
            )
            or not shutdown >= 0  # (NaN too)
        ):
            what = f"ChildSpec {self.id!r}: shutdown"
            raise ChildSpecError(
                f"{what} must be seconds >= 0 (0 kills at once) or None (wait "
                f"forever), got: {shutdown!r}"
            )
        if type(self.type) is not ChildType:
            what = f"ChildSpec {self.id!r}: type"
            raise ChildSpecError(f"{what} must be WORKER or SUPERVISOR, got: {self.type!r}")


# The slot descriptors ChildSpec.__init__ fills (dataclass made the slots).
_set_id, _set_start, _set_restart, _set_shutdown, _set_type = (
    vars(ChildSpec)[field].__set__ for field in ChildSpec.__slots__
)
_new_spec: Final = object.__new__


class _ClassSpec(ChildSpec):
    """The spec a GenServer class's `child_spec` builds: `cls.start(*args, **kwargs)`
    kept in the spec itself, not in a start callable of its own. That is one object
    fewer per child, and a dynamic supervisor holds a spec per child (one per user, for
    the session-worker pattern), each of which the garbage collector walks on every
    full collection.

    A via name is kept as its registry and key, and its id made from them when asked
    for (a via name nothing else holds is then one more object fewer per child).

    It reads as any ChildSpec does: `spec.start` is a no-argument callable (this
    method, bound) and `spec.start()` starts the child; it equals a ChildSpec with the
    same fields, and `dataclasses.replace` of it is a class spec too.
    """

    __slots__ = ("_args", "_cls", "_kwargs", "_name", "_registry")
    _args: tuple[Any, ...]
    _cls: type[GenServer]
    _kwargs: dict[str, Any] | None
    _name: object  # the `name=` to start with, or the key of a via name
    _registry: Registry | None  # the registry of a via name

    def __new__(cls, *args: Any, **kwargs: Any) -> ChildSpec:  # type: ignore[misc]
        # Reached from dataclasses.replace (class_spec makes the others). A spec whose
        # start is still a class spec's stays one.
        plain = ChildSpec(*args, **kwargs)  # (every check, with its message)
        origin = getattr(plain.start, "__self__", None)
        if type(origin) is not _ClassSpec or plain.start != origin.start:
            return plain
        return class_spec(
            plain.id, origin._cls, origin._args, origin._kwargs, origin._start_name(),
            plain.restart, plain.shutdown, plain.type,
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """(Made whole by `__new__`.)"""

    # Where ChildSpec has a field, a property or a method: found first.
    @property
    def id(self) -> Hashable:
        """The spec's id: the name, unless another was given."""
        id = _get_id(self)
        return id if id is not _VIA_NAME else _new_via(Via, (self._registry, self._name))

    def start(self) -> Awaitable[GenServer]:
        """Start the child: `cls.start(*args, **kwargs)` with the spec's arguments."""
        kwargs = self._kwargs
        name = self._name
        if self._registry is not None:
            name = _new_via(Via, (self._registry, name))
        elif name is None:  # (no name)
            return self._cls.start(*self._args, **(kwargs or {}))
        if kwargs:
            return self._cls.start(*self._args, name=name, **kwargs)
        return self._cls.start(*self._args, name=name)

    def _start_name(self) -> object:
        """The `name=` it starts the child with (None for none)."""
        registry = self._registry
        return self._name if registry is None else _new_via(Via, (registry, self._name))

    def __eq__(self, other: object) -> bool:
        # (the dataclass's equality would take only another _ClassSpec)
        if not isinstance(other, ChildSpec):
            return NotImplemented
        mine = (self.id, self.start, self.restart, self.shutdown, self.type)
        return mine == (other.id, other.start, other.restart, other.shutdown, other.type)

    __hash__ = ChildSpec.__hash__

    def __repr__(self) -> str:
        return (
            f"ChildSpec(id={self.id!r}, start={self._cls.__qualname__}.start, "
            f"restart={self.restart!r}, shutdown={self.shutdown!r}, type={self.type!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # (copy and pickle: the dataclass's own state has no room for the arguments)
        start = (self.id, self._cls, self._args, self._kwargs, self._start_name())
        return class_spec, (*start, self.restart, self.shutdown, self.type)


# The slot descriptors that class_spec fills.
_set_args, _set_cls, _set_kwargs, _set_name, _set_registry = (
    vars(_ClassSpec)[field].__set__ for field in _ClassSpec.__slots__
)
_get_id: Final = vars(ChildSpec)["id"].__get__
# In the id slot of a class spec whose id is its via name.
_VIA_NAME: Final = object()


def class_spec(
    id: Hashable,
    cls: type[GenServer],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None,
    name: object,
    restart: Restart,
    shutdown: float | None,
    type_: ChildType,
) -> ChildSpec:
    """The spec with this id that starts `cls.start(*args, name=name, **kwargs)` (no
    `name=` when None); checked as `ChildSpec(...)` is, in one frame for the common
    values (a dynamic supervisor builds a spec per child)."""
    spec = _new_spec(_ClassSpec)
    if type(name) is Via:
        _set_id(spec, _VIA_NAME if id is name else id)
        _set_name(spec, name.key)
        _set_registry(spec, name.registry)
    else:
        _set_id(spec, id)
        _set_name(spec, name)
        _set_registry(spec, None)
    _set_restart(spec, restart)
    _set_shutdown(spec, shutdown)
    _set_type(spec, type_)
    _set_args(spec, args)
    _set_cls(spec, cls)
    _set_kwargs(spec, kwargs)
    if (
        type(restart) is not Restart
        or type(type_) is not ChildType
        or not (shutdown is None or (type(shutdown) is float and shutdown >= 0))
    ):
        spec.__post_init__()  # (every check, with its message)
        return spec
    try:
        hash(id)
    except TypeError:
        spec.__post_init__()  # (which says why)
    return spec


def class_of(spec: ChildSpec) -> type[GenServer] | None:
    """The GenServer class `spec` starts, when a class's `child_spec` built it (or it
    was built from such a spec's start); else None, as nothing says without starting
    it."""
    if type(spec) is _ClassSpec:
        return spec._cls
    owner = getattr(spec.start, "__self__", None)
    return owner._cls if type(owner) is _ClassSpec else None

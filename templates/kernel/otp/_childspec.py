"""ChildSpec: how a supervisor starts, restarts and stops one child."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ._errors import ChildSpecError

if TYPE_CHECKING:
    from ._genserver import GenServer


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
            or shutdown < 0
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


def spec_for(
    id: Hashable,
    start: Callable[[], Awaitable[GenServer]],
    restart: Restart,
    shutdown: float | None,
    type_: ChildType,
) -> ChildSpec:
    """`ChildSpec(id, start, restart, shutdown, type_)` for a `start` known to be an
    async callable (a class's `child_spec`), in one frame for the common values (a
    dynamic supervisor builds a spec per child it starts); any other goes through
    ChildSpec's own checks."""
    if (
        type(restart) is not Restart
        or type(type_) is not ChildType
        or not (shutdown is None or (type(shutdown) is float and shutdown >= 0))
    ):
        return ChildSpec(id, start, restart, shutdown, type_)
    try:
        hash(id)
    except TypeError:
        return ChildSpec(id, start, restart, shutdown, type_)  # (which says why)
    spec = _new_spec(ChildSpec)
    _set_id(spec, id)
    _set_start(spec, start)
    _set_restart(spec, restart)
    _set_shutdown(spec, shutdown)
    _set_type(spec, type_)
    return spec

"""The spec a GenServer class's `child_spec` builds keeps its start arguments in itself.

It holds no start callable of its own, and a via name as its registry and key (one
object each fewer per child of a dynamic supervisor). What users see must not change:
`spec.start` is a no-argument callable that starts the child, `spec.id` is the name,
the spec equals a ChildSpec with the same fields, stays frozen, and survives
`dataclasses.replace`, `copy` and `pickle`.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otp import (
    PERMANENT,
    SUPERVISOR,
    TEMPORARY,
    TRANSIENT,
    UNIQUE,
    WORKER,
    ChildSpec,
    DynamicSupervisor,
    GenServer,
    Registry,
    Supervisor,
    Via,
    _childspec,
    snapshot,
    via,
)


class Holder(GenServer):
    """Keeps what it was started with (module level, so that pickle finds it)."""

    async def init(self, first: int, *, second: str = "-") -> None:
        self.seen = (first, second)


class Sub(Supervisor):
    """A supervisor started from a class spec (so the observer knows its kind)."""


def referents(obj: object) -> list[object]:
    return gc.get_referents(obj)


async def test_spec_start_is_a_callable_that_starts_the_class_with_its_arguments() -> None:
    spec = Holder.child_spec(1, second="two", name="holder")
    start = spec.start
    assert callable(start)
    assert start == spec.start  # (bound anew on each read, equal each time)
    process = await start()
    assert isinstance(process, Holder)
    assert process.seen == (1, "two")
    assert process.name == "holder"
    await process.stop()


async def test_a_class_spec_equals_and_hashes_as_a_childspec_with_the_same_fields() -> None:
    registry = Registry(UNIQUE)
    spec = Holder.child_spec(1, name=via(registry, "k"))
    plain = ChildSpec(spec.id, spec.start, spec.restart, spec.shutdown, spec.type)
    assert spec == plain
    assert plain == spec
    assert hash(spec) == hash(plain)
    assert spec != Holder.child_spec(1, name=via(registry, "k"))  # another start
    assert spec != dataclasses.replace(plain, restart=TEMPORARY)


async def test_a_via_named_spec_keeps_no_via_and_its_id_is_the_name() -> None:
    registry = Registry(UNIQUE, name="users")
    spec = Holder.child_spec(1, name=via(registry, "ada"))
    assert spec.id == via(registry, "ada")
    assert type(spec.id) is Via
    assert not [r for r in referents(spec) if type(r) is Via]
    assert repr(spec) == (
        "ChildSpec(id=via(users, 'ada'), start=Holder.start, "
        "restart=<Restart.PERMANENT: 'permanent'>, shutdown=5.0, "
        "type=<ChildType.WORKER: 'worker'>)"
    )
    sup = await DynamicSupervisor.start()
    process = await sup.start_child(spec)
    assert not [r for r in referents(process) if type(r) is Via]
    assert process.name == via(registry, "ada")
    assert registry.whereis("ada") is process
    assert registry.keys_of(process) == ["ada"]
    assert [info.id for info in await sup.which_children()] == [via(registry, "ada")]
    assert repr(process).startswith("<Holder via(users, 'ada') at ")
    await sup.stop()
    assert registry.whereis("ada") is None
    assert registry.keys_of(process) == []


async def test_a_class_spec_is_frozen() -> None:
    spec = Holder.child_spec(1)
    for field in ("id", "start", "restart", "shutdown", "type"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(spec, field, None)


async def test_replace_keeps_a_class_spec_with_its_arguments() -> None:
    registry = Registry(UNIQUE)
    spec = Holder.child_spec(7, second="x", name=via(registry, "k"))
    other = dataclasses.replace(spec, id="other", restart=TEMPORARY)
    assert other.id == "other"
    assert other.restart is TEMPORARY
    assert repr(other).startswith("ChildSpec(id='other', start=Holder.start, ")
    assert _childspec.class_of(other) is Holder
    process = await other.start()
    assert process.seen == (7, "x")
    assert process.name == via(registry, "k")  # the name stays the start's
    await process.stop()


async def test_replacing_start_gives_a_plain_spec() -> None:
    async def start() -> GenServer:
        return await Holder.start(3)

    spec = dataclasses.replace(Holder.child_spec(1, name="h"), start=start)
    assert type(spec) is ChildSpec
    assert spec.id == "h"
    assert _childspec.class_of(spec) is None
    process = await spec.start()
    assert process.seen == (3, "-")
    await process.stop()


async def test_a_spec_built_from_a_class_specs_start_knows_its_class() -> None:
    spec = Sub.child_spec([], name="sub")
    plain = ChildSpec("sub", spec.start, type=spec.type, shutdown=spec.shutdown)
    assert _childspec.class_of(plain) is Sub
    root = await Supervisor.start([plain])
    kinds = {info.child_id: info.kind for info in snapshot().processes}
    assert kinds["sub"] == "supervisor"
    await root.stop()


async def test_copy_and_pickle_give_an_equal_looking_spec_that_starts_the_same() -> None:
    registry = Registry(UNIQUE)
    spec = Holder.child_spec(5, second="s", name=via(registry, "c"))
    copied = copy.copy(spec)
    assert repr(copied) == repr(spec)
    assert copied.id == spec.id
    process = await copied.start()
    assert (process.seen, process.name) == ((5, "s"), via(registry, "c"))
    await process.stop()

    named = Holder.child_spec(6, name="pickled")
    loaded: Any = pickle.loads(pickle.dumps(named))
    assert repr(loaded) == repr(named)
    process = await loaded.start()
    assert (process.seen, process.name) == ((6, "-"), "pickled")
    await process.stop()


@pytest.mark.parametrize(
    "name",
    [42, ("registry", "key"), via(42, "key"), via(None, "key")],  # type: ignore[arg-type]
    ids=["int", "tuple", "via-int", "via-none"],
)
async def test_a_name_that_is_no_str_nor_via_of_a_registry_is_a_type_error(name: Any) -> None:
    with pytest.raises(TypeError, match=r"name must be a str or via\(registry, key\)"):
        await Holder.start(1, name=name)


REGISTRY = Registry(UNIQUE, name="prop")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.integers(),
    second=st.none() | st.text(max_size=5),
    name_kind=st.sampled_from(["none", "str", "via"]),
    key=st.integers() | st.text(max_size=5) | st.tuples(st.integers(), st.integers()),
    restart=st.sampled_from([PERMANENT, TRANSIENT, TEMPORARY]),
    shutdown=st.none() | st.floats(0, 100) | st.integers(0, 100),
    type_=st.sampled_from([WORKER, SUPERVISOR]),
    new_id=st.none() | st.text(max_size=5),
)
async def test_a_class_spec_reads_starts_and_replaces_as_the_plain_spec_would(
    monkeypatch: pytest.MonkeyPatch,
    first: int,
    second: str | None,
    name_kind: str,
    key: Any,
    restart: Any,
    shutdown: float | None,
    type_: Any,
    new_id: str | None,
) -> None:
    # Any valid class defaults, any arguments, each kind of name: what the spec shows is
    # what a ChildSpec built from the same fields shows, and it starts what it says.
    monkeypatch.setattr(Holder, "child_restart", restart)
    monkeypatch.setattr(Holder, "child_shutdown", shutdown)
    monkeypatch.setattr(Holder, "child_type", type_)
    name = {"none": None, "str": f"h{key!r}", "via": via(REGISTRY, key)}[name_kind]
    kwargs: dict[str, Any] = {} if second is None else {"second": second}
    if name is not None:
        kwargs["name"] = name
    spec = Holder.child_spec(first, **kwargs)
    assert spec.id == ("Holder" if name is None else name)
    assert (spec.restart, spec.shutdown, spec.type) == (restart, shutdown, type_)
    plain = ChildSpec(spec.id, spec.start, restart, shutdown, type_)
    assert spec == plain
    assert hash(spec) == hash(plain)
    assert repr(spec) == repr(plain).replace(repr(spec.start), "Holder.start")
    if new_id is not None:
        spec = dataclasses.replace(spec, id=new_id)
        assert spec.id == new_id
        assert _childspec.class_of(spec) is Holder
    process = await spec.start()
    try:
        assert process.seen == (first, "-" if second is None else second)
        assert process.name == name
    finally:
        await process.stop()
    assert REGISTRY.count() == 0

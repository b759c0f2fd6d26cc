"""The rendered sliding-window rate limiter against a model of its rule, step by step.

The rule (the module's docstring): in every window of length `period`, wherever it starts,
a key is admitted at most `limit`, the sum of the costs; an admission at time t counts
during [t, t + period). The model keeps every admission and recomputes from scratch; the
limiter keeps a trimmed log, takes a shortcut for cost 1 (no cost log until another cost
comes) and cleans idle keys. Hypothesis drives both through the same random steps on a fake
clock (times in 1/64 s, exact in binary) and compares every answer.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

STEP = 1 / 64
LIMIT = 5
PERIOD = 1.0


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("model")
    (root / "src" / "modelshop").mkdir(parents=True)
    (root / "src" / "modelshop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "modelshop"\nversion = "0"\n')
    subprocess.run(
        [sys.executable, "-m", "otpgen", "new", "rate-limiter", "limits", "--no-input"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(root / "src"))
    try:
        yield importlib.import_module("modelshop.limits")
    finally:
        sys.path.remove(str(root / "src"))
        for name in [m for m in sys.modules if m.startswith("modelshop")]:
            del sys.modules[name]


class Clock:
    def __init__(self) -> None:
        self.now = 1e5  # a host up for a day: the clock is far from 0

    def __call__(self) -> float:
        return self.now


class Model:
    """Every admission per key, the rule applied to all of them each time."""

    def __init__(self) -> None:
        self.admitted: dict[str, list[tuple[float, int]]] = {}

    def counted(self, key: str, now: float) -> list[tuple[float, int]]:
        return [(at, cost) for at, cost in self.admitted.get(key, []) if at > now - PERIOD]

    def allow(self, key: str, cost: int, now: float) -> bool:
        if sum(c for _, c in self.counted(key, now)) + cost > LIMIT:
            return False
        self.admitted.setdefault(key, []).append((now, cost))
        return True

    def retry_after(self, key: str, cost: int, now: float) -> float:
        if cost > LIMIT:
            return float("inf")
        counted = self.counted(key, now)
        excess = sum(c for _, c in counted) + cost - LIMIT
        if excess <= 0:
            return 0.0
        for at, spent in counted:
            excess -= spent
            if excess <= 0:
                return at - (now - PERIOD)
        raise AssertionError("not reached")


steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 96)),
        st.tuples(st.just("allow"), st.sampled_from("ab"), st.sampled_from([1, 1, 1, 2, 3, 6])),
        st.tuples(st.just("retry"), st.sampled_from("ab"), st.sampled_from([1, 2, 5, 6])),
        st.tuples(st.just("cleanup")),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(steps=steps)
def test_every_answer_is_the_models(module: ModuleType, steps: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    limiter = module.Limits(limit=LIMIT, period=PERIOD, clock=clock)
    model = Model()
    for step in steps:
        if step[0] == "advance":
            clock.now += step[1] * STEP
        elif step[0] == "allow":
            _, key, cost = step
            assert limiter.allow(key, cost) == model.allow(key, cost, clock.now), step
        elif step[0] == "retry":
            _, key, cost = step
            assert limiter.retry_after(key, cost) == model.retry_after(key, cost, clock.now)
        else:
            limiter.cleanup()


@pytest.mark.parametrize("cost", [0, -1])
def test_a_cost_below_1_is_refused_with_or_without_state(module: ModuleType, cost: int) -> None:
    limiter = module.Limits(limit=LIMIT, period=PERIOD, clock=Clock())
    with pytest.raises(ValueError, match="cost must be >= 1"):
        limiter.allow("new", cost)
    assert limiter.allow("k")
    with pytest.raises(ValueError, match="cost must be >= 1"):
        limiter.allow("k", cost)
    assert len(limiter) == 1  # the refused call made no state


def test_a_store_without_the_key_starts_a_log_for_it(module: ModuleType) -> None:
    store: dict[str, Any] = {}
    limiter = module.Limits(limit=2, period=PERIOD, clock=Clock(), store=store)
    assert limiter.allow("k")
    assert limiter.allow("k")
    assert not limiter.allow("k")
    assert list(store) == ["k"]

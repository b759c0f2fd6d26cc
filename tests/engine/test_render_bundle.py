"""`update` and `check` cache their renders as one bundle per project, not one entry each."""

from pathlib import Path

import pytest
from enginekit import MODULE, update

from otpgen import _compile
from otpgen._update import plan_update


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "own-cache"
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(cache))
    return cache


def entries(cache: Path, section: str) -> set[Path]:
    return {p for p in (cache / section).rglob("*") if p.is_file()}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The templates run (compiled), one entry per render of a template."""
    ran: list[str] = []
    real = _compile.render

    def counting(source: str, context: dict[str, object]) -> str | None:
        ran.append(source)
        return real(source, context)

    monkeypatch.setattr(_compile, "render", counting)
    return ran


def test_an_update_caches_its_renders_as_one_bundle(
    generated: Path, v2: Path, own_cache: Path
) -> None:
    per_render = entries(own_cache, "render")
    assert update(generated, v2)[MODULE].value == "update"
    assert entries(own_cache, "render") == per_render  # no entry of its own for each render
    assert len(entries(own_cache, "render-bundle")) == 1


def test_the_next_run_takes_every_render_from_the_bundle(
    generated: Path, v2: Path, own_cache: Path, renders: list[str]
) -> None:
    update(generated, v2)
    for entry in entries(own_cache, "render"):
        entry.unlink()  # only the bundle is left to serve them
    bundle = entries(own_cache, "render-bundle")
    renders.clear()
    assert plan_update(generated, v2).writes() == []
    assert renders == []
    assert entries(own_cache, "render-bundle") == bundle  # nothing missed: not rewritten


def test_a_damaged_bundle_only_misses(
    generated: Path, v2: Path, own_cache: Path, renders: list[str]
) -> None:
    update(generated, v2)
    for entry in entries(own_cache, "render"):
        entry.unlink()
    (bundle,) = entries(own_cache, "render-bundle")
    bundle.write_text("{not json")
    renders.clear()
    assert plan_update(generated, v2).writes() == []  # rendered again, the same
    assert renders
    assert bundle.read_text().startswith("{")
    renders.clear()
    plan_update(generated, v2)
    assert renders == []  # the bundle was written again, whole

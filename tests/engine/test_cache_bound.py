"""otpgen's cache stays bounded (the entries written longest ago go first) and can be
inspected and emptied with `otpgen cache info` and `otpgen cache clear`."""

import os
import time
from pathlib import Path

import pytest
from clikit import otpgen

from otpgen import _cache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(root))
    monkeypatch.delenv("OTPGEN_NO_CACHE", raising=False)
    return root


def fill(count: int, size: int) -> list[str]:
    """`count` entries of `size` bytes, each written a second after the one before."""
    names = []
    for index in range(count):
        name = _cache.key(str(index))
        _cache.write_binary("render", name, b"x" * size)
        path = _cache.cache_dir() / "render" / name[:2] / name  # type: ignore[operator]
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
        names.append(name)
    return names


def test_prune_keeps_the_newest_entries_under_the_bound(cache: Path) -> None:
    names = fill(50, 1000)
    freed = _cache.prune(cache, 20_000)
    kept = [n for n in names if _cache.read_binary("render", n) is not None]
    assert sum(1 for _ in kept) * 1000 <= 20_000 * 0.8
    assert kept == names[-len(kept) :]  # the newest, all of them
    assert freed == (len(names) - len(kept)) * 1000
    assert _cache.prune(cache, 20_000) == 0  # under the bound: nothing to do


def test_a_write_checks_the_size_at_most_once_an_hour(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTPGEN_CACHE_MAX_MB", str(30_000 / 1024 / 1024))
    fill(1, 1000)  # the first write checks (no marker yet) and leaves the marker
    fill(100, 1000)
    assert _cache.usage()[1] == 100_000  # within the hour: no check, the cache grew
    marker = cache / ".pruned"
    old = time.time() - 3601
    os.utime(marker, (old, old))
    _cache.write_binary("render", _cache.key("one more"), b"y" * 1000)
    assert _cache.usage()[1] <= 30_000 * 0.8


@pytest.mark.parametrize("raw", ["", "nope", "-1", "nan"])
def test_a_missing_or_bad_bound_is_the_default(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("OTPGEN_CACHE_MAX_MB", raw)
    assert _cache.max_bytes() == 64 * 1024 * 1024


def test_cache_info_and_clear(tmp_path: Path, cache: Path) -> None:
    project = tmp_path / "project"
    (project / "src/shop").mkdir(parents=True)
    (project / "src/shop/__init__.py").write_text("")
    (project / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    assert otpgen("new", "agent", "hits", "--no-input", cwd=project).returncode == 0
    info = otpgen("cache", "info")
    assert info.stdout.startswith(f"{cache}: ")
    assert " 0 files" not in info.stdout
    cleared = otpgen("cache", "clear")
    assert cleared.returncode == 0
    assert cleared.stdout.startswith("removed ")
    assert not any(p.is_file() for p in cache.rglob("*"))
    assert otpgen("cache", "info").stdout.startswith(f"{cache}: 0 files, 0.0 MB")


def test_with_caching_off_the_commands_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTPGEN_NO_CACHE", "1")
    result = otpgen("cache", "clear")
    assert (result.returncode, result.stdout) == (
        0,
        "caching is off (OTPGEN_NO_CACHE is set): nothing to clear\n",
    )

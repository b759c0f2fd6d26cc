"""TOML documents are kept in otpgen's cache as JSON when JSON holds them exactly."""

import datetime
import math
from pathlib import Path

import pytest

from otpgen import _files
from otpgen._errors import OtpgenError
from otpgen._files import read_toml


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("OTPGEN_CACHE_DIR", str(cache))
    _files._parse_toml.cache_clear()
    return cache


def entries(cache: Path) -> list[Path]:
    return [p for p in (cache / "toml").rglob("*") if p.is_file()] if cache.exists() else []


def read_fresh(path: Path) -> object:
    _files._parse_toml.cache_clear()  # as a new process would
    return read_toml(path)


def test_a_document_is_read_back_from_the_cache_as_parsed(tmp_path: Path, own_cache: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "shop"\nversion = "0"\n[tool.ruff]\nline-length = 88\n')
    first = read_fresh(path)
    assert len(entries(own_cache)) == 1
    assert (
        read_fresh(path)
        == first
        == {
            "project": {"name": "shop", "version": "0"},
            "tool": {"ruff": {"line-length": 88}},
        }
    )


def test_what_json_cannot_hold_exactly_is_parsed_every_time(
    tmp_path: Path, own_cache: Path
) -> None:
    path = tmp_path / "dates.toml"
    path.write_text("when = 2026-12-02\nratio = nan\n")
    for _ in range(2):
        data = read_fresh(path)
        assert isinstance(data, dict)
        assert data["when"] == datetime.date(2026, 12, 2)
        assert math.isnan(data["ratio"])
    assert entries(own_cache) == []


def test_a_damaged_entry_is_parsed_again(tmp_path: Path, own_cache: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("version = 3\n")
    read_fresh(path)
    [entry] = entries(own_cache)
    entry.write_text("[not a table")
    assert read_fresh(path) == {"version": 3}


def test_invalid_toml_is_reported_with_the_parsers_reason(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project\n")
    with pytest.raises(OtpgenError, match=r"pyproject\.toml is not valid TOML: .*line 1"):
        read_fresh(path)


def test_each_read_returns_its_own_copy(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text("[t]\nx = [1]\n")
    first = read_toml(path)
    assert first is not None
    first["t"]["x"].append(2)
    assert read_toml(path) == {"t": {"x": [1]}}

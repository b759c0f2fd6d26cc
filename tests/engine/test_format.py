"""Formatting the rendered tree: one ruff pass for the whole tree, cached by content."""

import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from otpgen import _format
from otpgen._errors import OtpgenError
from otpgen._format import format_tree

TREE = {
    PurePosixPath("src/demo/a.py"): "import os\nx=[1,\n2]\n",
    PurePosixPath("src/demo/b.py"): "def f( y ):\n  return y\n",
}


@pytest.fixture
def ruff_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    real = subprocess.run

    def counting(command: list[str], **kwargs: Any) -> Any:
        runs.append(command)
        return real(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)
    return runs


def test_the_whole_tree_is_fixed_and_formatted_in_two_ruff_runs(
    project: Path, ruff_runs: list[list[str]]
) -> None:
    result = format_tree(TREE, project)
    assert result[PurePosixPath("src/demo/a.py")] == "x = [1, 2]\n"
    assert result[PurePosixPath("src/demo/b.py")] == "def f(y):\n    return y\n"
    assert [command[1] for command in ruff_runs] == ["check", "format"]


def test_the_project_ruff_configuration_applies(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 100", "line-length = 20"))
    long_call = {PurePosixPath("src/demo/c.py"): "value = some_function(argument_one, two)\n"}
    assert format_tree(long_call, project)[PurePosixPath("src/demo/c.py")] == (
        "value = some_function(\n    argument_one,\n    two,\n)\n"
    )


def test_formatting_the_same_text_again_starts_no_process(
    project: Path, ruff_runs: list[list[str]]
) -> None:
    first = format_tree(TREE, project)
    runs = len(ruff_runs)
    assert format_tree(TREE, project) == first
    assert len(ruff_runs) == runs


def test_a_changed_ruff_configuration_is_not_served_from_the_cache(
    project: Path, ruff_runs: list[list[str]]
) -> None:
    format_tree(TREE, project)
    runs = len(ruff_runs)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.ruff.format]\nquote-style = 'single'\n")
    format_tree(TREE, project)
    assert len(ruff_runs) == runs + 2


def test_no_cache_formats_every_time(
    project: Path, ruff_runs: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTPGEN_NO_CACHE", "1")
    format_tree(TREE, project)
    format_tree(TREE, project)
    assert len(ruff_runs) == 4


def test_a_test_file_alone_sorts_the_projects_package_as_first_party(tmp_path: Path) -> None:
    """The package is not in the batch (its module came from the cache): still first-party."""
    (tmp_path / "src/shop").mkdir(parents=True)
    (tmp_path / "src/shop/__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    test = PurePosixPath("tests/test_x.py")
    text = "import pytest\nfrom shop import otp\nimport os\n\nx = (pytest, otp, os)\n"
    formatted = format_tree({test: text}, tmp_path)[test]
    assert formatted.startswith("import os\n\nimport pytest\n\nfrom shop import otp\n")


def _fake_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A virtual environment at tmp_path/env holding a ruff package and its bin/ruff."""
    import ruff

    env = tmp_path / "env"
    (env / "lib" / "ruff").mkdir(parents=True)
    (env / "bin").mkdir()
    (env / "bin" / "ruff").write_text("")
    monkeypatch.setattr(sys, "prefix", str(env))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "base"))
    monkeypatch.setattr(ruff, "__path__", [str(env / "lib" / "ruff")])
    return env


def test_ruff_is_the_virtual_environments_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _fake_environment(tmp_path, monkeypatch)
    assert _format._ruff() == str(env / "bin" / "ruff")


def test_ruff_outside_the_environment_is_found_by_ruff_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ruff.__main__

    _fake_environment(tmp_path, monkeypatch)
    monkeypatch.setattr(ruff, "__path__", [str(tmp_path / "elsewhere" / "ruff")])
    monkeypatch.setattr(ruff.__main__, "find_ruff_bin", lambda: "/found/by/ruff")
    assert _format._ruff() == "/found/by/ruff"


def test_a_test_file_sorts_its_module_as_first_party_when_the_module_came_from_the_cache(
    tmp_path: Path,
) -> None:
    """Ruff finds `from shop.x import y` first-party only where shop/x.py exists: the
    module, served from the cache, is still there while the test file is formatted."""
    (tmp_path / "src/shop").mkdir(parents=True)
    (tmp_path / "src/shop/__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    module, test = PurePosixPath("src/shop/x.py"), PurePosixPath("tests/test_x.py")
    format_tree({module: "y = 1\n"}, tmp_path)  # now cached
    text = "import pytest\n\nfrom shop import otp\nfrom shop.x import y\n\nz = (pytest, otp, y)\n"
    formatted = format_tree({module: "y = 1\n", test: text}, tmp_path)[test]
    assert formatted.startswith("import pytest\n\nfrom shop import otp\nfrom shop.x import y\n")


def test_the_scratch_directory_is_removed_even_when_ruff_fails(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    broken = {PurePosixPath("src/demo/d.py"): "def f(:\n    pass\n"}
    with pytest.raises(OtpgenError, match="not valid Python"):
        format_tree(broken, project)
    assert format_tree(TREE, project)[PurePosixPath("src/demo/b.py")].startswith("def f(y)")
    assert list(scratch.iterdir()) == []


def test_an_unusable_tmpdir_falls_back_to_tempfile(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    assert format_tree(TREE, project)[PurePosixPath("src/demo/a.py")] == "x = [1, 2]\n"


def test_ruff_is_found_on_the_path_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "site" / "ruff").mkdir(parents=True)
    (tmp_path / "site" / "ruff" / "__init__.py").write_text("raise ImportError('imported')\n")
    (tmp_path / "site" / "ruff-9.9.9.dist-info").mkdir()
    monkeypatch.delitem(sys.modules, "ruff", raising=False)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "empty"), str(tmp_path / "site")])
    assert _format._ruff_package() == tmp_path / "site" / "ruff"
    _format._ruff_version.cache_clear()
    try:
        assert _format._ruff_version() == "9.9.9"
    finally:
        _format._ruff_version.cache_clear()


def test_the_scratch_copy_goes_to_tmpdir_when_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(_format, "MEMORY_DIR", tmp_path / "memory")
    (tmp_path / "memory").mkdir()
    assert _format.scratch_parent(1000) == str(tmp_path)


def test_the_scratch_copy_goes_to_memory_when_tmpdir_is_unset_and_there_is_room(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = tmp_path / "memory"
    memory.mkdir()
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(_format, "MEMORY_DIR", memory)
    assert _format.scratch_parent(1000) == str(memory)
    assert _format.scratch_parent(1 << 62) == "/tmp"  # no room for that much
    monkeypatch.setattr(_format, "MEMORY_DIR", tmp_path / "absent")
    assert _format.scratch_parent(1000) == "/tmp"

    places: list[str] = []
    real = subprocess.run

    def recording(command: list[str], **kwargs: Any) -> Any:
        places.append(str(kwargs.get("cwd")))
        return real(command, **kwargs)

    monkeypatch.setattr(_format, "MEMORY_DIR", memory)
    monkeypatch.setattr(subprocess, "run", recording)
    fresh = {PurePosixPath("src/demo/memory.py"): "in_memory=[3,\n4]\n"}  # not cached yet
    assert (
        format_tree(fresh, project)[PurePosixPath("src/demo/memory.py")] == "in_memory = [3, 4]\n"
    )
    assert places
    assert all(Path(place).parent == memory for place in places)
    assert list(memory.iterdir()) == []  # removed after

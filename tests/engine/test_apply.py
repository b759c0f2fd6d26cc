"""Applying writes all files or none, whatever fails midway."""

import os
from pathlib import Path, PurePosixPath

import pytest
from enginekit import snapshot

from otpgen._apply import write_files


def files(*pairs: tuple[str, str]) -> list[tuple[PurePosixPath, str]]:
    return [(PurePosixPath(path), text) for path, text in pairs]


def test_all_files_land_and_no_temporaries_remain(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("old\n")
    write_files(tmp_path, files(("a.py", "new\n"), ("pkg/deep/b.py", "b\n")))
    assert (tmp_path / "a.py").read_text() == "new\n"
    assert (tmp_path / "pkg/deep/b.py").read_text() == "b\n"
    assert sorted(p.name for p in tmp_path.rglob("*otpgen*")) == []


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_at_any_move_leaves_the_tree_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int, error: BaseException
) -> None:
    (tmp_path / "a.py").write_text("old a\n")
    (tmp_path / "c.py").write_text("old c\n")
    before = snapshot(tmp_path)
    calls = 0
    real_replace = os.replace

    def flaky_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise error
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(type(error)):
        write_files(tmp_path, files(("a.py", "new a\n"), ("new/b.py", "b\n"), ("c.py", "new c\n")))
    monkeypatch.setattr(os, "replace", real_replace)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "new").exists()


def test_a_failure_while_staging_leaves_the_tree_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("old a\n")
    before = snapshot(tmp_path)
    real_write = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        if self.name.startswith(".c.py"):
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_files(tmp_path, files(("a.py", "new a\n"), ("c.py", "c\n")))
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert snapshot(tmp_path) == before


def test_none_removes_a_file_and_a_failure_brings_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gone.py").write_text("old\n")
    write_files(tmp_path, [*files(("keep.py", "k\n")), (PurePosixPath("gone.py"), None)])
    assert not (tmp_path / "gone.py").exists()
    (tmp_path / "gone.py").write_text("old\n")
    before = snapshot(tmp_path)
    real_replace = os.replace
    calls = 0

    def flaky_replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(OSError, match="Permission denied"):
        write_files(tmp_path, [(PurePosixPath("gone.py"), None), *files(("new.py", "n\n"))])
    monkeypatch.setattr(os, "replace", real_replace)
    assert snapshot(tmp_path) == before

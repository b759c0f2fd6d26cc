"""The apply step: a journal makes every write end old or new; the next run finishes it."""

import contextlib
import json
import os
import stat
from pathlib import Path, PurePosixPath

import pytest
from enginekit import snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from otpgen import _apply
from otpgen._apply import Write, apply, apply_fresh, recover, recover_fresh
from otpgen._errors import OtpgenError


def writes(*pairs: tuple[str, str | None]) -> list[Write]:
    return [Write(PurePosixPath(p), None if t is None else t.encode()) for p, t in pairs]


def leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if "otpgen-" in p.name or p.name.startswith("journal")
    )


def test_all_files_land_and_no_temporaries_or_journal_remain(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("old\n")
    (tmp_path / "gone.py").write_text("bye\n")
    apply(tmp_path, writes(("a.py", "new\n"), ("pkg/deep/b.py", "b\n"), ("gone.py", None)), "t")
    assert (tmp_path / "a.py").read_text() == "new\n"
    assert (tmp_path / "pkg/deep/b.py").read_text() == "b\n"
    assert not (tmp_path / "gone.py").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fail_at", [1, 2, 3])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_while_staging_leaves_the_tree_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int, error: BaseException
) -> None:
    (tmp_path / "a.py").write_text("old a\n")
    before = snapshot(tmp_path)
    real = _apply._write_new
    calls = 0

    def failing(path: Path, data: bytes, mode: int | None, flush: object = None) -> None:
        nonlocal calls
        if not path.name.startswith("journal"):
            calls += 1
            if calls == fail_at:
                raise error
        real(path, data, mode, flush)

    monkeypatch.setattr(_apply, "_write_new", failing)
    new = writes(("a.py", "new a\n"), ("pkg/b.py", "b\n"), ("c.py", "c\n"))
    with pytest.raises(type(error)):
        apply(tmp_path, new, "t")
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py"]  # no pkg/, no .otpgen/


def test_a_crash_during_the_commit_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("old a\n")
    (tmp_path / "b.py").write_text("old b\n")
    real_replace = os.replace
    renames = 0

    def crash(src: str, dst: str) -> None:
        nonlocal renames
        if "journal" not in str(dst):
            renames += 1
            if renames == 2:
                raise SystemExit("power cut")  # stands for the process dying here
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SystemExit):
        apply(tmp_path, writes(("a.py", "new a\n"), ("b.py", "new b\n"), ("c.py", "c\n")), "t")
    monkeypatch.setattr(os, "replace", real_replace)
    # each file is old or new, never absent
    assert (tmp_path / "a.py").read_text() == "new a\n"
    assert (tmp_path / "b.py").read_text() == "old b\n"
    message = recover(tmp_path)
    assert message is not None
    assert "finished an interrupted `otpgen t`" in message
    assert [(tmp_path / n).read_text() for n in ("a.py", "b.py", "c.py")] == [
        "new a\n",
        "new b\n",
        "c\n",
    ]
    assert leftovers(tmp_path) == []
    assert recover(tmp_path) is None


def test_a_crash_while_staging_is_rolled_back_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.py").write_text("old a\n")
    before = snapshot(tmp_path)
    monkeypatch.setattr(_apply, "_roll_back", lambda root, journal: None)  # the process died

    def die(path: Path, data: bytes, mode: int | None, flush: object = None) -> None:
        if "otpgen-" in path.name:
            path.write_bytes(data[:2])  # half a staged file
            raise SystemExit("killed")
        real(path, data, mode, flush)

    real = _apply._write_new
    monkeypatch.setattr(_apply, "_write_new", die)
    with pytest.raises(SystemExit):
        apply(tmp_path, writes(("a.py", "new a\n"), ("pkg/b.py", "b\n")), "t")
    monkeypatch.undo()
    assert leftovers(tmp_path)  # temporaries and the journal are there
    message = recover(tmp_path)
    assert message is not None
    assert "rolled back" in message
    assert snapshot(tmp_path) == before
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "pkg").exists()


def test_a_journal_of_a_live_process_is_not_touched(tmp_path: Path) -> None:
    (tmp_path / ".otpgen").mkdir()
    journal = {"state": "commit", "command": "t", "pid": os.getppid(), "dirs": [], "entries": []}
    (tmp_path / ".otpgen/journal.json").write_text(json.dumps(journal))
    with pytest.raises(OtpgenError, match="another otpgen"):
        recover(tmp_path)
    assert (tmp_path / ".otpgen/journal.json").exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are seen in /proc")
def test_a_journal_of_a_killed_but_unreaped_process_is_rolled_back(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    # Killed, and not waited for: a zombie still answers os.kill(pid, 0), but writes nothing.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.kill()
        deadline = time.monotonic() + 10
        while b") Z" not in Path(f"/proc/{child.pid}/stat").read_bytes():
            assert time.monotonic() < deadline, "the child did not die"
            time.sleep(0.01)
        (tmp_path / ".otpgen").mkdir()
        (tmp_path / ".a.py.otpgen-x").write_text("staged\n")
        entries = [{"path": "a.py", "stage": ".a.py.otpgen-x"}]
        journal = {
            "state": "staging",
            "command": "t",
            "pid": child.pid,
            "dirs": [],
            "entries": entries,
        }
        (tmp_path / ".otpgen/journal.json").write_text(json.dumps(journal))
        assert "rolled back" in (recover(tmp_path) or "")
        assert leftovers(tmp_path) == []
    finally:
        child.wait()


def test_a_journal_naming_paths_outside_the_project_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".otpgen").mkdir(parents=True)
    (tmp_path / "victim.txt").write_text("keep me\n")
    entries = [{"path": "../victim.txt", "stage": None}]
    journal = {"state": "commit", "command": "t", "pid": 1 << 30, "dirs": [], "entries": entries}
    (project / ".otpgen/journal.json").write_text(json.dumps(journal))
    with pytest.raises(OtpgenError, match="is damaged"):  # never followed out of the project
        recover(project)
    assert (tmp_path / "victim.txt").read_text() == "keep me\n"


def test_file_modes_are_kept(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("old\n")
    script.chmod(0o755)
    apply(tmp_path, writes(("run.sh", "new\n")), "t")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == "new\n"


def test_a_read_only_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a\n")
    locked = tmp_path / "locked.py"
    locked.write_text("mine\n")
    locked.chmod(0o444)
    before = snapshot(tmp_path)
    with pytest.raises(OtpgenError, match=r"locked\.py is read-only; make it writable"):
        apply(tmp_path, writes(("a.py", "new\n"), ("locked.py", "theirs\n")), "t")
    assert snapshot(tmp_path) == before


def test_a_directory_where_a_file_goes_is_refused_before_writing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("a\n")
    (tmp_path / "b.py").mkdir()
    with pytest.raises(OtpgenError, match=r"b\.py is a directory"):
        apply(tmp_path, writes(("a.py", "new\n"), ("b.py", "x\n")), "t")
    assert (tmp_path / "a.py").read_text() == "a\n"


def test_a_symlink_out_of_the_project_is_refused(tmp_path: Path) -> None:
    project, outside = tmp_path / "p", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (project / "linked").symlink_to(outside)
    (project / "file.py").symlink_to(outside / "x.py")
    with pytest.raises(OtpgenError, match="outside the project"):
        apply(project, writes(("linked/evil.py", "x\n")), "t")
    with pytest.raises(OtpgenError, match="symbolic link"):
        apply(project, writes(("file.py", "x\n")), "t")
    assert list(outside.iterdir()) == []


def test_a_fresh_directory_appears_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "svc"
    real = _apply._write_new
    calls = 0

    def failing(path: Path, data: bytes, mode: int | None, flush: object = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        real(path, data, mode, flush)

    monkeypatch.setattr(_apply, "_write_new", failing)
    with pytest.raises(OSError, match="No space"):
        apply_fresh(target, writes(("a.py", "a\n"), ("b/c.py", "c\n")))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    apply_fresh(target, writes(("a.py", "a\n"), ("b/c.py", "c\n")))
    assert snapshot(target) == {"a.py": b"a\n", "b/c.py": b"c\n"}
    assert [p.name for p in tmp_path.iterdir()] == ["svc"]


def test_a_dead_inits_staging_directory_is_removed(tmp_path: Path) -> None:
    stale = tmp_path / f".svc.otpgen-init-{1 << 30}-abcdef"
    (stale / "src").mkdir(parents=True)
    message = recover_fresh(tmp_path / "svc")
    assert message is not None
    assert "interrupted `otpgen init`" in message
    assert list(tmp_path.iterdir()) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=5,
)


@settings(max_examples=200, deadline=None)
@given(
    where=st.sampled_from(["state", "command", "pid", "dirs", "entries", "entry", "path"]),
    value=json_values,
)
def test_a_damaged_journal_is_an_error_line_and_nothing_outside_is_touched(
    tmp_path_factory: pytest.TempPathFactory, where: str, value: object
) -> None:
    base = tmp_path_factory.mktemp("journal")
    project = base / "p"
    (project / ".otpgen").mkdir(parents=True)
    (project / "a.py").write_text("a\n")
    (base / "victim.txt").write_text("keep\n")
    entry: dict[str, object] = {"path": "a.py", "stage": ".a.py.otpgen-1-abcdef"}
    journal: dict[str, object] = {
        "state": "commit",
        "command": "update",
        "pid": 1 << 30,
        "dirs": [],
        "entries": [entry],
    }
    if where == "entry":
        journal["entries"] = [value]
    elif where == "path":
        entry["path"] = value
    else:
        journal[where] = value
    (project / ".otpgen/journal.json").write_text(json.dumps(journal))
    with contextlib.suppress(OtpgenError):
        recover(project)
    assert (base / "victim.txt").read_text() == "keep\n"
    assert (project / "a.py").read_text() == "a\n"

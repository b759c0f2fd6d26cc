"""The only step that touches the disk: every write ends old or new, even under kill -9.

Writing into a project (`new`, `update`, `init --force`):

1. A journal, `.otpgen/journal.json`, is written first (atomically) in the `staging` state: it
   lists every target and the temporary file its new text is staged in beside it.
2. Every new text is staged and fsync'ed. A crash up to here leaves only temporaries, which
   the next command removes ("rolled back"): the project is as it was.
3. The journal moves to `commit`, then each target is replaced by its staged file with
   `os.replace` — atomic, so a target is its old text or its new one, never absent — and
   removed files are unlinked. The manifest is the last target. A crash here is finished by the
   next command ("rolled forward"): everything needed is on disk and listed in the journal.
4. The journal is removed.

Ctrl-C and SIGTERM wait while the commit runs (a few renames), and are delivered after it.

A new directory (`init`) is built beside its target and renamed into place in one step, so
the target is either absent or complete; a crash leaves only the hidden staging directory,
which the next `init` removes.

Tests kill the real process at every step: `OTPGEN_TEST_KILL_AT_STEP=N` sends SIGKILL to
otpgen itself at the N-th disk step (nothing else reads it).
"""

import contextlib
import json
import os
import signal
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from otpgen._errors import OtpgenError
from otpgen._manifest import DIRECTORY, JOURNAL
from otpgen._record import frozen


@frozen
class Write:
    """One target: its new bytes, or None to remove it.

    With `guard`, the target must still hold `expect` (None: be absent) when the write
    begins: what the plan was computed from. A file changed meanwhile — by an editor, or by
    another otpgen — is never overwritten blind.
    """

    path: PurePosixPath
    data: bytes | None
    guard: bool = False
    expect: bytes | None = None


class _Steps:
    """Counts disk steps; kills the process at the one a test names (see the module doc)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.count == int(os.environ.get("OTPGEN_TEST_KILL_AT_STEP") or 0):
            os.kill(os.getpid(), signal.SIGKILL)


_step = _Steps()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new(path: Path, data: bytes, mode: int | None, flush: "_Flusher | None" = None) -> None:
    """Create `path` (it must not exist) holding `data`, flushed to the disk.

    With `flush`, the flush is handed to it (and done by the time it closes), so the files
    of one run reach the disk together instead of one after another.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        raise
    if mode is not None:
        os.chmod(path, mode)  # the umask may have narrowed it
    if flush is None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    else:
        flush.add(fd)


class _Flusher:
    """fsync and close file descriptors in batches, each on a few threads.

    The files of a batch are all written first, then flushed together: the filesystem
    commits them in one go, and no flush holds its journal while the next file is created
    (flushing one by one, or while writing, costs several times as much).
    """

    BATCH = 128  # file descriptors held at most

    def __init__(self) -> None:
        self._fds: list[int] = []

    def add(self, fd: int) -> None:
        self._fds.append(fd)
        if len(self._fds) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        fds, self._fds = self._fds, []
        if len(fds) < 4:
            for fd in fds:
                self._flush(fd)
            return
        import threading

        lanes = [fds[i::8] for i in range(min(8, len(fds)))]
        failures: list[BaseException] = []

        def lane(part: list[int]) -> None:
            for fd in part:
                try:
                    self._flush(fd)
                except BaseException as exc:  # reported once every lane is done
                    failures.append(exc)

        threads = [threading.Thread(target=lane, args=(part,)) for part in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]

    @staticmethod
    def _flush(fd: int) -> None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "_Flusher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def _atomic_json(
    path: Path, data: object, *, durable: bool = True, exclusive: bool = False
) -> None:
    """Replace `path` with `data` as JSON in one step; `durable` waits for the disk.

    The staging journal need not be durable: if the power fails before the commit, its
    temporaries are lost or left as hidden `.otpgen-` files, and no target was touched.
    The commit journal must be on the disk before the first target is replaced.
    `exclusive` creates `path` only if it does not exist (FileExistsError otherwise): the
    journal is also the lock that keeps two otpgen runs from writing one project at once.
    """
    staged = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    staged.unlink(missing_ok=True)
    payload = json.dumps(data, indent=1).encode()
    if durable:
        _write_new(staged, payload, None)
    else:
        staged.write_bytes(payload)
    _step()
    if exclusive:
        try:
            os.link(staged, path)  # atomic, and refuses an existing journal
        finally:
            staged.unlink()
    else:
        os.replace(staged, path)
    if durable:
        _fsync_dir(path.parent)
    _step()


def _busy(root: Path) -> OtpgenError:
    """The error for a journal found where this run meant to create its own."""
    try:
        pid = json.loads((root / JOURNAL).read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError, AttributeError):
        pid = None
    who = f"another otpgen (pid {pid})" if isinstance(pid, int) else "another otpgen"
    return OtpgenError(
        f"{who} is writing in this project; nothing was written: wait for it, then run the "
        "command again"
    )


def _check_unchanged(root: Path, writes: Sequence[Write]) -> None:
    """Refuse when a guarded target no longer holds what the plan was computed from."""
    for write in writes:
        if not write.guard:
            continue
        try:
            now: bytes | None = (root / write.path).read_bytes()
        except FileNotFoundError:
            now = None
        if now != write.expect:
            raise OtpgenError(
                f"{write.path.as_posix()} changed while otpgen was working (an editor, or "
                "another otpgen?); nothing was written: run the command again"
            )


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM (delivered on exit) while the block runs."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):  # no sigmask here (Windows, a thread)
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _inside(root: Path, target: Path) -> bool:
    """Whether `target`'s directory lies inside `root`, symbolic links followed."""
    real_root = root.resolve()
    real = target.parent.resolve()
    return real == real_root or real_root in real.parents


# A target that is a symbolic link: said the same by the write that refuses it and by
# `check`, which reports it before (an `update` would only refuse it again).
LINKED = "is a symbolic link, and otpgen does not write through links"
LINK_FIX = "replace the link with a copy of the file it points to"


def check_writable(root: Path, writes: Sequence[Write]) -> None:
    """Refuse, before anything is written, a target otpgen must not or cannot replace."""
    real_root = root.resolve()
    directories: dict[PurePosixPath, None] = {}  # the parents already checked
    _check_directory(root, real_root, JOURNAL.parent, JOURNAL.as_posix())  # .otpgen itself
    for write in writes:
        name = write.path.as_posix()
        parent = write.path.parent
        if parent not in directories:
            _check_directory(root, real_root, parent, name)
            directories[parent] = None
        try:
            status = os.lstat(root / write.path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(status.st_mode):
            raise OtpgenError(f"{name} {LINKED}: {LINK_FIX}, then run the command again")
        if stat.S_ISDIR(status.st_mode):
            raise OtpgenError(f"{name} is a directory where otpgen writes a file; move it away")
        if not status.st_mode & stat.S_IWUSR:
            raise OtpgenError(
                f"{name} is read-only; make it writable (chmod u+w {name}) to let otpgen change it"
            )


def _check_directory(root: Path, real_root: Path, parent: PurePosixPath, name: str) -> None:
    """Refuse a target whose directory is a file, or leads out of the project."""
    for ancestor in (parent, *parent.parents):
        if ancestor != PurePosixPath(".") and (root / ancestor).is_file():
            raise OtpgenError(f"{ancestor.as_posix()} is a file where {name} needs a directory")
    real = (root / parent).resolve()
    if real != real_root and real_root not in real.parents:
        raise OtpgenError(
            f"{name} leads outside the project through a symbolic link; otpgen writes only "
            "inside the project"
        )


def _token() -> str:
    return f"{os.getpid()}-{os.urandom(3).hex()}"


def _stage_name(path: PurePosixPath, token: str) -> PurePosixPath:
    return path.with_name(f".{path.name}.otpgen-{token}")


def apply(root: Path, writes: Sequence[Write], command: str) -> None:
    """Write every target under `root` through the journal (see the module doc)."""
    if not writes:
        return
    check_writable(root, writes)
    token = _token()
    entries = [
        {
            "path": w.path.as_posix(),
            "stage": None if w.data is None else _stage_name(w.path, token).as_posix(),
        }
        for w in writes
    ]
    needed = {DIRECTORY, *(p for w in writes if w.data is not None for p in w.path.parents)}
    dirs = sorted(
        (d for d in needed if d != PurePosixPath(".") and not (root / d).is_dir()),
        key=lambda d: len(d.parts),
    )
    (root / DIRECTORY).mkdir(exist_ok=True)
    journal = {
        "state": "staging",
        "command": command,
        "pid": os.getpid(),
        "dirs": [d.as_posix() for d in dirs],
        "entries": entries,
    }
    try:
        _atomic_json(root / JOURNAL, journal, durable=False, exclusive=True)
    except BaseException as exc:
        if DIRECTORY in dirs:  # made for this run: leave nothing behind
            with contextlib.suppress(OSError):
                (root / DIRECTORY).rmdir()
        if isinstance(exc, FileExistsError):
            raise _busy(root) from None
        raise
    try:
        _check_unchanged(root, writes)
        for directory in dirs:
            (root / directory).mkdir(exist_ok=True)
        with _Flusher() as flush:
            for write, entry in zip(writes, entries, strict=True):
                if write.data is None:
                    continue
                target = root / write.path
                mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else None
                _write_new(root / str(entry["stage"]), write.data, mode, flush)
                _step()
    except BaseException:
        _roll_back(root, journal)
        raise
    with _signals_deferred():
        _atomic_json(root / JOURNAL, {**journal, "state": "commit"})
        try:
            _roll_forward(root, journal)
        except OSError as exc:
            raise OtpgenError(
                f"writing stopped midway ({exc.strerror or exc}: {exc.filename}); some files are "
                f"new, the rest old, and {JOURNAL} lists them: fix the cause, then run any "
                "otpgen command in the project to finish the write"
            ) from None


def _roll_forward(root: Path, journal: dict[str, Any]) -> None:
    touched: set[Path] = set()
    for entry in journal["entries"]:
        target = root / entry["path"]
        if entry["stage"] is None:
            if target.exists() or target.is_symlink():
                target.unlink()
                _step()
            _tidy(root, PurePosixPath(entry["path"]))
        else:
            stage = root / entry["stage"]
            if stage.exists():
                os.replace(stage, target)
                _step()
        touched.add(target.parent)
    for directory in touched:
        _fsync_dir(directory)
    (root / JOURNAL).unlink(missing_ok=True)
    _fsync_dir(root / DIRECTORY)
    _step()


def _tidy(root: Path, removed: PurePosixPath) -> None:
    """Remove the directories of otpgen's own state that `removed` left empty (old bases)."""
    if removed.parts[0] != DIRECTORY.as_posix():
        return  # the user's directories are theirs, empty or not
    for parent in removed.parents:
        if parent in (DIRECTORY, PurePosixPath(".")):
            return
        try:
            (root / parent).rmdir()
        except OSError:  # not empty: its parents are not either
            return


def _roll_back(root: Path, journal: dict[str, Any]) -> None:
    for entry in journal["entries"]:
        if entry["stage"] is not None:
            (root / entry["stage"]).unlink(missing_ok=True)
    for directory in reversed(journal.get("dirs", [])):
        with contextlib.suppress(OSError):  # not empty after all: leave it
            (root / directory).rmdir()
    (root / JOURNAL).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # .otpgen/ made for this run alone
        (root / DIRECTORY).rmdir()


def _alive(pid: int) -> bool:
    if pid == os.getpid() or not 0 < pid < 1 << 31:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not _zombie(pid)
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended but its parent has not reaped it yet (Linux; False elsewhere).

    A zombie still answers `os.kill(pid, 0)`, but it writes nothing any more: a journal it
    left is an interrupted run's, to finish or roll back, not a live one's to wait for.
    """
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:  # no /proc (not Linux), or the process is gone meanwhile
        return False
    # "pid (comm) state ...": the name may hold spaces and parentheses, so after the last ")"
    state = stat_line.rpartition(b")")[2].split()
    return bool(state) and state[0] == b"Z"


def _relative(value: object) -> bool:
    """Whether `value` is a relative path with no `..`, as otpgen writes them."""
    if not isinstance(value, str) or not value or "\\" in value or "\0" in value:
        return False
    return not value.startswith("/") and all(p not in ("", ".", "..") for p in value.split("/"))


def _well_formed(journal: object) -> bool:
    """Whether `journal` has the shape `apply` writes (anything else is not followed)."""
    if not isinstance(journal, dict):
        return False
    entries, dirs = journal.get("entries"), journal.get("dirs", [])
    return (
        journal.get("state") in ("staging", "commit")
        and isinstance(journal.get("command"), str)
        and isinstance(entries, list)
        and all(
            isinstance(e, dict)
            and _relative(e.get("path"))
            and (e.get("stage") is None or _relative(e.get("stage")))
            for e in entries
        )
        and isinstance(dirs, list)
        and all(_relative(d) for d in dirs)
    )


def recover(root: Path) -> str | None:
    """Finish or roll back a write that a crash interrupted; say what was done, if anything."""
    path = root / JOURNAL
    removed = []
    for leftover in path.parent.glob(f"{path.name}.*.tmp") if path.parent.is_dir() else []:
        pid = leftover.name.split(".")[-2]
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)
            removed.append(leftover.name)
    if removed and not path.exists():
        return f"removed {', '.join(removed)}, left in .otpgen/ by an interrupted otpgen run"
    try:
        journal = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        journal = str(exc)
    if not _well_formed(journal):
        raise OtpgenError(
            f"{JOURNAL} is damaged; an otpgen run was interrupted: check the files it lists, "
            "then delete it"
        )
    state, command, entries = journal["state"], journal["command"], journal["entries"]
    if isinstance(journal.get("pid"), int) and _alive(journal["pid"]):
        raise OtpgenError(
            f"another otpgen (pid {journal['pid']}) is writing in this project; nothing was "
            f"written: wait for it to finish (or, if it is gone, delete {JOURNAL} after checking "
            "the files it lists)"
        )
    for entry in entries:  # the journal names only paths inside the project
        for key in ("path", "stage"):
            if entry[key] is not None and not _inside(root, root / entry[key]):
                raise OtpgenError(
                    f"{JOURNAL} names a path outside the project; check it, then delete it"
                )
    if state == "commit":
        try:
            _roll_forward(root, journal)
        except OSError as exc:
            raise OtpgenError(
                f"could not finish an interrupted `otpgen {command}` ({exc.strerror or exc}: "
                f"{exc.filename}); some of its files are written, and {JOURNAL} lists the "
                "rest: fix the cause and run otpgen again"
            ) from None
        return (
            f"finished an interrupted `otpgen {command}` ({len(entries)} files): every file it "
            "meant to write is now written"
        )
    _roll_back(root, journal)
    return f"rolled back an interrupted `otpgen {command}`: it had not changed any file yet"


def _staging_dirs(target: Path) -> list[Path]:
    prefix = f".{target.name}.otpgen-init-"
    if not target.parent.is_dir():
        return []
    return [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.is_dir()]


def recover_fresh(target: Path) -> str | None:
    """Remove the staging directories an interrupted `init` of `target` left beside it."""
    removed = []
    for staging in _staging_dirs(target):
        pid = staging.name.rsplit("-", 2)[-2]
        if pid.isdigit() and _alive(int(pid)):
            continue
        _remove_tree(staging)
        removed.append(staging.name)
    if not removed:
        return None
    return f"removed {', '.join(removed)}, left by an interrupted `otpgen init`"


def apply_fresh(target: Path, writes: Sequence[Write]) -> None:
    """Create the directory `target` (absent or empty) holding `writes`, in one rename."""
    staging = target.with_name(f".{target.name}.otpgen-init-{_token()}")
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    try:
        for directory in reversed(made):
            directory.mkdir()
        staging.mkdir()
        _step()
        with _Flusher() as flush:
            for write in writes:
                if write.data is None:
                    continue
                path = staging / write.path
                path.parent.mkdir(parents=True, exist_ok=True)
                _write_new(path, write.data, None, flush)
                _step()
        _fsync_dir(staging)
        with _signals_deferred():
            os.rename(staging, target)  # replaces an empty directory, refuses a full one
            _fsync_dir(target.parent)
            _step()
    except BaseException:
        _remove_tree(staging)
        for directory in made:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _remove_tree(path: Path) -> None:
    """Remove a staging tree; shutil (and the archive modules it loads) only when one is left."""
    import shutil

    shutil.rmtree(path, ignore_errors=True)

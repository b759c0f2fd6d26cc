"""kill -9 at every disk step of `init`, `new` and `update`, with the real console script.

`OTPGEN_TEST_KILL_AT_STEP=N` makes otpgen SIGKILL itself at its N-th disk step. For every N
until the command completes, the tree left behind must hold each file as it was or as the
command makes it — never absent, never half-written — plus at most otpgen's own journal and
temporaries; and running the command again must end exactly where an uninterrupted run ends.
"""

import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from clikit import otpgen_exe

from otpgen._templates import templates_dir

Tree = dict[str, bytes]


def snapshot(root: Path) -> Tree:
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(args: list[str], cwd: Path, kill_at: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OTPGEN_TEST_KILL_AT_STEP": str(kill_at)}
    return subprocess.run(
        [otpgen_exe(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def ours(path: str) -> bool:
    """otpgen's own crash leftovers: the journal and staged temporaries."""
    return "/.otpgen/journal.json" in f"/{path}" or ".otpgen-" in path


def assert_old_or_new(left: Tree, old: Tree, new: Tree) -> None:
    for path in set(old) | set(new) | set(left):
        if ours(path):
            continue
        assert path in old or path in new, f"{path} is neither old nor new"
        if path in old and path in new:
            assert path in left, f"{path} is missing"
        if path in left:
            assert left[path] in (old.get(path), new.get(path)), f"{path} is half-written"


def kill_everywhere(
    prepare: Callable[[Path], Path], args: list[str], tmp_path: Path
) -> tuple[int, list[str]]:
    """Kill `otpgen ARGS` at each step in a fresh copy; return (steps, what reruns said)."""
    reference = prepare(tmp_path / "reference")
    old = snapshot(reference)
    done = run(args, reference)
    assert done.returncode == 0, done.stderr
    new = snapshot(reference)
    assert new != old
    said = []
    step = 0
    while True:
        step += 1
        work = prepare(tmp_path / f"kill{step}")
        result = run(args, work, kill_at=step)
        if result.returncode == 0:
            assert snapshot(work) == new
            return step - 1, said
        assert result.returncode == -signal.SIGKILL, result.stderr
        assert_old_or_new(snapshot(work), old, new)
        again = run(args, work)
        assert again.returncode == 0, f"step {step}: {again.stderr}"
        assert snapshot(work) == new, f"step {step}: the rerun did not end where a run ends"
        said.append(again.stdout + again.stderr)
        shutil.rmtree(work)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("service")
    assert run(["init", "shop", "--no-input"], base).returncode == 0
    return base / "shop"


def copy_of(service: Path) -> Callable[[Path], Path]:
    def prepare(where: Path) -> Path:
        shutil.copytree(service, where)
        return where

    return prepare


def test_init_killed_at_any_step_leaves_nothing_or_everything(tmp_path: Path) -> None:
    def empty(where: Path) -> Path:
        where.mkdir()
        return where

    steps, said = kill_everywhere(empty, ["init", "shop", "--no-input"], tmp_path)
    assert steps > 20  # a step per file, at least
    assert any("interrupted `otpgen init`" in text for text in said)


def test_new_killed_at_any_step_leaves_every_file_old_or_new(service: Path, tmp_path: Path) -> None:
    args = ["new", "genserver", "inventory", "--no-input"]
    steps, said = kill_everywhere(copy_of(service), args, tmp_path)
    assert steps > 5
    assert any("finished an interrupted `otpgen new`" in text for text in said)
    assert any("rolled back an interrupted `otpgen new`" in text for text in said)


def test_update_killed_at_any_step_keeps_the_users_edits(service: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(service, edited)
    assert run(["new", "genserver", "inventory", "--no-input"], edited).returncode == 0
    app = edited / "src/shop/application.py"
    app.write_text(
        app.read_text().replace("from shop import otp\n", "from shop import otp\n\n# mine\n")
    )
    shipped = templates_dir() / "patterns/genserver/module.py.j2"
    override = edited / ".otpgen/templates/patterns/genserver/module.py.j2"
    override.parent.mkdir(parents=True)
    text = shipped.read_text()
    override.write_text(text.replace('"""', '"""Changed by the template. ', 1))
    kernel = templates_dir() / "kernel/otp/_registry.py"
    kernel_override = edited / ".otpgen/templates/kernel/otp/_registry.py"
    kernel_override.parent.mkdir(parents=True)
    kernel_override.write_text(kernel.read_text() + "\n\nADDED_BY_THE_TEMPLATE = 1\n")
    steps, said = kill_everywhere(copy_of(edited), ["update"], tmp_path)
    assert steps > 5
    assert any("finished an interrupted `otpgen update`" in text for text in said)


def test_two_runs_at_once_never_lose_each_others_work(service: Path, tmp_path: Path) -> None:
    """Two `otpgen new` in one project at the same moment: each either lands whole or is
    refused with nothing written; what landed is all in the manifest and the tree."""
    for round_ in range(6):
        work = tmp_path / f"race{round_}"
        shutil.copytree(service, work)
        env = {**os.environ}
        procs = [
            subprocess.Popen(
                [otpgen_exe(), "new", "genserver", name, "--no-input"],
                cwd=work,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("left", "right")
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        manifest = (work / ".otpgen/manifest.json").read_text()
        app = (work / "src/shop/application.py").read_text()
        for (code, err), name in zip(results, ("left", "right"), strict=True):
            assert code in (0, 2), err
            landed = f"genserver:{name}" in manifest
            assert landed == (code == 0), (code, err)
            assert (work / f"src/shop/{name}.py").exists() == landed
            assert (f"from shop.{name} import" in app) == landed
            if code:
                assert err.startswith("error: "), err
                assert "nothing was written" in err, err
        assert run(["check"], work).returncode == 0

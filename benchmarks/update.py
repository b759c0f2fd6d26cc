"""Benchmark `otpgen update` against `copier update` and `cruft update` on 205 generated files,
and otpgen alone on 55, 205 and 805 files (its cost per file as a project grows).

Run: python benchmarks/update.py [--rounds N] [--ref REF] [--keep]

Targets (from the issue): over 200 generated files (205 here: the kernel has 15 files), a
no-op `otpgen update` at least 3x faster than `cruft update`, and an update that merges a
template change into 190 edited files at least 3x faster than cruft's; and otpgen's cost
per file flat from 50 to 800 files (55 to 805 here). "Flat" is judged on the marginal cost,
the growth in time per file added (from 55 to 205 files, then from 205 to 805), since a
fixed start-up (interpreter, imports) makes the plain time per file fall with size anyway:
the report prints both, and calls the cost flat when the 205->805 marginal is at most 1.25x
the 55->205 one.

What is generated. An otpgen project (`[project] name = "shop"`, `src/shop/__init__.py`) gets
95 genserver renders, `otpgen new genserver m0 --no-input` ... `m94`: 190 files (a module
and its test each) plus the 15 kernel files in `src/shop/otp/`, 205 generated files. The
first comes from the `otpgen new` command, the others from otpgen's engine called the same
way in one process, to keep the (untimed) build short. The sweep's projects are made alike
with 20 and 395 modules (55 and 805 files); each has a cache directory of its own.

How the peers are made equivalent. The copier template (a git repository tagged v1) and the
cookiecutter template used by cruft (a git repository, v1 on its default branch) hold those
same 205 files, read back from otpgen's output, as jinja templates: each file's text inside
`{% raw %}`, with the package name `shop` turned into the template variable. Every tool
therefore renders 205 templates, and the script checks that copier and cookiecutter write
files byte-identical to otpgen's. The peers' projects are git repositories with the
generated files committed (both tools need that to update); otpgen's is not. The peers are
timed at 205 files only.

The two cases, timed as the wall time of one command-line process (interpreter start-up
included, the same for all three tools), median and spread of N rounds. Each round times
every tool in turn, so that a slow spell of the machine falls on all of them:

- no-op: nothing changed since generation; `otpgen update`, `copier update --defaults`,
  `cruft update --skip-apply-ask`. The project is left as it is between rounds, and is
  checked to be unchanged afterwards.
- change + merge: the templates change one line in every module (the docstring's first
  line) and one in every test (the test docstring), and the user has edited all of those
  files apart from that change (a line appended at the end). otpgen gets the change from a
  template override, `.otpgen/templates/patterns/genserver/*.j2`, that edits the shipped
  templates; the new renders it produces become the peers' v2 templates, a commit tagged
  v2 (the user's edits are committed in the peers' projects). Before each round the
  project is restored from a pristine copy, outside the timing; after each round every
  file must hold both the template's change and the user's edit (the pattern files merged,
  the kernel's files unchanged), and otpgen's statuses are printed from one
  `--format json` run.

otpgen runs from a copy of this checkout's `src/otpgen` and `templates` taken at the start
(the working tree, or the commit `--ref` names), first on PYTHONPATH, so that edits made to
the checkout during a run do not change what it measures; the copy is compiled to bytecode,
as pip compiles an installed wheel (and copier's and cruft's own code).

otpgen caches renders and formatted files by content (`OTPGEN_CACHE_DIR`, a directory of
the run's own). Its main figures use the cache as a user's would be: holding the renders of
the templates the project was generated with. At 205 files it is also timed with an empty
cache (no-op) and with the new templates' renders already cached (change + merge, as after
a pre-commit `otpgen check`). copier and cruft keep no such cache; both clone the template
repository (a local path here, so no network) on every update.
"""

from __future__ import annotations

import argparse
import collections
import difflib
import io
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path

MODULES = 95
PACKAGE = "shop"
PATTERN_FILES = 2 * MODULES
KERNEL = Path(__file__).resolve().parents[1] / "templates" / "kernel" / "otp"
KERNEL_FILES = len(list(KERNEL.glob("*.py")))
"""The kernel's files (15 since the kernel was split into small modules; 10 before)."""
GENERATED_FILES = PATTERN_FILES + KERNEL_FILES
SWEEP = (2 * 20 + KERNEL_FILES, GENERATED_FILES, 2 * 395 + KERNEL_FILES)
"""Project sizes (generated files) otpgen alone is also timed at, for its cost per file:
20, 95 and 395 modules with their tests, and the kernel (about 50, 200 and 800 files)."""
CRUFT_TARGET = 3.0
"""cruft's median / otpgen's, in both cases, at least (the issue's targets)."""
FLAT_TARGET = 1.25
"""The marginal cost per file from 200 to 800 files / from 50 to 200, at most ("flat")."""
DEFAULT_ROUNDS = 5
NOOP = "no-op update"
CHANGE = "change + merge"
CASES = (NOOP, CHANGE)
COMMAND_TIMEOUT = 300.0

USER_EDIT = "# Edited by the user after generation: every update must keep this line.\n"
TEMPLATE_CHANGES = {
    "module.py.j2": (
        '"""{{ class_name }}: a bounded work queue; its consumers wait',
        '"""{{ class_name }}: a bounded FIFO work queue; its consumers wait',
    ),
    "test_module.py.j2": (
        '"""{{ class_name }} for real: supervised;',
        '"""{{ class_name }} for real, end to end: supervised;',
    ),
}
"""For each genserver template: one line the template upgrade changes (old, new)."""

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
SOURCES = ("src/otpgen", "templates")
"""What otpgen is run from: its code and its templates, in this repository."""
PACKAGE_WORD = re.compile(rf"\b{PACKAGE}\b")


GENERATE = """\
import sys
from pathlib import Path
from otpgen._generate import NewRequest, plan_new
from otpgen._plan import apply_plan
root = Path(sys.argv[1])
for i in range(int(sys.argv[2]), int(sys.argv[3])):
    apply_plan(plan_new(NewRequest("genserver", f"m{i}", cwd=root)))
"""
"""`otpgen new genserver mI` for I in [argv[2], argv[3]), in one process (the build only)."""


# Processes, timing and statistics.


class CommandFailed(Exception):
    """A command exited with a non-zero status (or did not finish in time)."""


class Unavailable(Exception):
    """A peer cannot be measured here; the message says why."""


def executable(name: str) -> str:
    """The console script `name` of this interpreter's environment, else the one on PATH.

    The one beside `sys.executable` comes first so that no wrapper (a pyenv shim, say) adds
    its own start-up to one tool's figures and not another's.
    """
    local = BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise Unavailable(f"`{name}` is not installed (neither in {BIN} nor on PATH)")
    return found


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command without a terminal or input, so that any prompt fails instead of waiting."""
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"`{shown(cmd)}` did not finish within {exc.timeout:.0f} s") from exc
    if proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        last = output[-1].strip() if output else "no output"
        raise CommandFailed(f"`{shown(cmd)}` exited {proc.returncode}: {last}")
    return proc


@dataclass(frozen=True)
class Timing:
    """One run of a command, in seconds."""

    wall: float
    cpu: float  # user + system time of the process and of the processes it waited for


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> Timing:
    """Time one successful run of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run(cmd, cwd, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(wall, cpu)


def shown(cmd: Sequence[str]) -> str:
    """A command as typed, with the executables' directories left out."""
    return " ".join([Path(cmd[0]).name, *cmd[1:]])


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    """Run git in `cwd` and return its output."""
    return run(["git", *args], cwd, env).stdout


def commit_all(repo: Path, env: dict[str, str], message: str, tag: str | None = None) -> None:
    """Commit everything in `repo` (creating it if needed), and tag the commit."""
    if not (repo / ".git").exists():
        git(repo, env, "init", "--quiet", "--initial-branch=main")
    git(repo, env, "add", "--all")
    git(repo, env, "commit", "--quiet", "--no-verify", "--message", message)
    if tag is not None:
        git(repo, env, "tag", tag)


@dataclass
class Samples:
    """Every timing of one case."""

    values: list[Timing] = field(default_factory=list)

    @property
    def median(self) -> float:
        """The median wall time."""
        return statistics.median(t.wall for t in self.values)

    def describe(self) -> str:
        """Median wall time [min .. max], and the median CPU time."""
        walls = [t.wall for t in self.values]
        spread = f"[{ms(min(walls))} .. {ms(max(walls))}]"
        cpu = statistics.median(t.cpu for t in self.values)
        return f"{ms(self.median):>9}  {spread:<24}{ms(cpu):>9}"


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds."""
    return f"{seconds * 1000:,.0f} ms"


# Files and trees.

Files = dict[str, str]
"""Generated files by their path relative to the project (POSIX), to their text."""


def read_files(root: Path, paths: Sequence[str]) -> Files:
    """The text of `paths` under `root`, byte for byte (no newline translation)."""
    return {p: (root / p).read_bytes().decode() for p in paths}


def write_files(root: Path, files: Files) -> None:
    """Write each file under `root`, creating directories, byte for byte."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())


def mismatches(root: Path, expected: Files) -> list[str]:
    """The paths under `root` whose content is not the expected one (or that are missing)."""
    bad = []
    for rel, text in expected.items():
        path = root / rel
        if not path.is_file() or path.read_bytes() != text.encode():
            bad.append(rel)
    return bad


def require_files(root: Path, expected: Files, what: str) -> None:
    """Fail with a short reason when a file under `root` is not as expected."""
    bad = mismatches(root, expected)
    if bad:
        raise CommandFailed(f"{what}: {len(bad)} of {len(expected)} files differ, e.g. {bad[0]}")


def tree_digest(root: Path) -> dict[str, bytes]:
    """Every file under `root` but `.git/`, with its content."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def restore(snapshot: Path, target: Path) -> None:
    """Replace `target` with a copy of `snapshot`."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(snapshot, target, symlinks=True)


def snapshot_source(dest: Path, ref: str | None, env: dict[str, str]) -> str:
    """Copy otpgen's code and templates to `dest`; say which version was copied.

    otpgen is installed editable from this checkout, which may be edited while the benchmark
    runs: every otpgen command runs from the copy (first on PYTHONPATH), so that one run
    measures one version. `ref` copies a commit instead of the working tree.
    """
    head = git(REPO, env, "rev-parse", "--short", f"{ref or 'HEAD'}^{{commit}}").strip()
    if ref is not None:
        archive = ["git", "archive", "--format=tar", head, "--", *SOURCES]
        tar = subprocess.run(archive, cwd=REPO, env=env, capture_output=True, check=False)
        if tar.returncode != 0:
            raise CommandFailed(f"`git archive {head}` exited {tar.returncode}")
        with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archived:
            archived.extractall(dest, filter="data")
        what = f"commit {head} ({ref})"
    else:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for rel in SOURCES:
            shutil.copytree(REPO / rel, dest / rel, ignore=ignore)
        changed = git(REPO, env, "status", "--porcelain", "--", *SOURCES).splitlines()
        what = (
            f"the working tree at {head} ({len(changed)} paths under {' and '.join(SOURCES)} "
            "modified or new), copied at start"
        )
    # Bytecode, as pip compiles it when it installs a wheel (and as copier and cruft have it):
    # with PYTHONDONTWRITEBYTECODE set, otpgen would otherwise compile itself on every run.
    run([sys.executable, "-m", "compileall", "-q", str(dest / "src")], dest, env)
    return what


def make_project(root: Path) -> None:
    """The hand-written part of the project: pyproject.toml and the empty package."""
    (root / "src" / PACKAGE).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "{PACKAGE}"\nversion = "0.1.0"\n')
    (root / "src" / PACKAGE / "__init__.py").write_text("")


def as_template(text: str, variable: str) -> str:
    """A jinja template rendering `text`, with the package name as `variable`."""
    body = PACKAGE_WORD.sub(f"{{% endraw %}}{{{{ {variable} }}}}{{% raw %}}", text)
    return f"{{% raw %}}{body}{{% endraw %}}"


def template_files(files: Files, path_variable: str, text_variable: str) -> Files:
    """`files` as templates: the package directory named by a variable, the text raw."""
    return {
        PACKAGE_WORD.sub(path_variable, rel): as_template(text, text_variable)
        for rel, text in files.items()
    }


def changed_lines(old: str, new: str) -> int:
    """How many lines differ between two texts."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


@dataclass
class Corpus:
    """What every tool generates and merges: the same texts, before and after."""

    paths: list[str]  # the generated files
    pattern_paths: list[str]  # the 190 that the template upgrade changes and the user edits
    v1: Files  # as first generated
    v2: Files  # as the upgraded templates render them
    merged: Files  # v2 with the user's edits: what every update must leave

    def user_edits(self, root: Path) -> None:
        """Append the user's line to every pattern file under `root`."""
        for rel in self.pattern_paths:
            with (root / rel).open("a", encoding="utf-8", newline="") as file:
                file.write(USER_EDIT)


# The tools.


class Tool(ABC):
    """One generator: set up on v1, timed on a no-op update, then on v2 with user edits."""

    name: str

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work / self.name
        self.work.mkdir()
        self.env = env
        self.samples: dict[str, dict[str, Samples]] = {
            case: collections.defaultdict(Samples) for case in CASES
        }
        self.unavailable: str | None = None

    @abstractmethod
    def setup(self, corpus: Corpus) -> None:
        """Build the template (v1) and generate the project from it."""

    @abstractmethod
    def noop_round(self) -> dict[str, Timing]:
        """Time update(s) with nothing changed; the figures by the label of their case."""

    @abstractmethod
    def prepare_change(self, corpus: Corpus) -> None:
        """Publish v2 of the template and make the edited project every round starts from."""

    @abstractmethod
    def change_round(self, corpus: Corpus) -> dict[str, Timing]:
        """Restore the edited project and time the update to v2 (checked after)."""

    def attempt(
        self, step: str, action: Callable[[], dict[str, Timing] | None], case: str = ""
    ) -> None:
        """Run one step unless the tool is out; a failure puts it out, with the reason.

        The figures the step returns are added to the samples of `case`.
        """
        if self.unavailable is not None:
            return
        try:
            figures = action()
        except (CommandFailed, Unavailable, OSError) as exc:
            self.unavailable = f"{step}: {exc}"
            return
        for label, timing in (figures or {}).items():
            self.samples[case][label].values.append(timing)


class Otpgen(Tool):
    """otpgen: the project, its genserver renders, and the template upgrade as an override.

    The main instance has the 200 files every tool has; the sweep's instances (named
    `otpgen@N`) have N files and only otpgen's own main figures.
    """

    name = "otpgen"
    EMPTY_CACHE = "otpgen, empty cache"
    NEW_RENDERS_CACHED = "otpgen, new renders cached"

    def __init__(
        self, work: Path, env: dict[str, str], source: Path, files: int = GENERATED_FILES
    ) -> None:
        self.files = files
        self.modules = (files - KERNEL_FILES) // 2
        self.variants = files == GENERATED_FILES  # the empty and warm cache figures too
        if files != GENERATED_FILES:
            self.name = f"otpgen@{files}"
        super().__init__(work, env)
        self.source = source
        self.provenance = ""  # which otpgen source was measured, set by main
        path = [str(self.source / "src"), *filter(None, [env.get("PYTHONPATH")])]
        self.cache = self.work / "cache"  # its own, so instances do not share renders
        self.env = {**env, "PYTHONPATH": os.pathsep.join(path), "OTPGEN_CACHE_DIR": str(self.cache)}
        self.exe = executable("otpgen")
        self.project = self.work / "project"
        self.cache_v1 = self.work / "cache-v1"
        self.edited = self.work / "project-edited"
        self.statuses: collections.Counter[str] = collections.Counter()
        self.noop_tree: dict[str, bytes] = {}

    def build(self) -> Corpus:
        """Generate the project; the corpus every tool generates comes from it.

        The first module comes from the `otpgen new` command; the others from its engine
        called in one process, as the command calls it (the build is not timed, and one
        process per module would take minutes at 800 files).
        """
        imported = run(
            [sys.executable, "-c", "import otpgen; print(otpgen.__file__)"], REPO, self.env
        )
        if not Path(imported.stdout.strip()).is_relative_to(self.source):
            raise CommandFailed(f"otpgen is imported from {imported.stdout.strip()}, not the copy")
        self.project.mkdir()
        make_project(self.project)
        run([self.exe, "new", "genserver", "m0", "--no-input"], self.project, self.env)
        batch = [sys.executable, "-c", GENERATE, str(self.project), "1", str(self.modules)]
        run(batch, self.project, self.env)
        manifest = json.loads((self.project / ".otpgen" / "manifest.json").read_text())
        paths = sorted(path for r in manifest["renders"].values() for path in r["files"])
        if len(paths) != self.files:
            raise CommandFailed(f"otpgen generated {len(paths)} files, not {self.files}")
        v1 = read_files(self.project, paths)
        shutil.copytree(self.cache, self.cache_v1)
        self.noop_tree = tree_digest(self.project)

        # The upgraded templates: render them once, uncached, in a scratch copy.
        scratch = self.work / "scratch"
        shutil.copytree(self.project, scratch)
        self.install_override(scratch)
        run([self.exe, "update"], scratch, {**self.env, "OTPGEN_NO_CACHE": "1"})
        v2 = read_files(scratch, paths)
        shutil.rmtree(scratch)
        pattern_paths = [p for p in paths if v1[p] != v2[p]]
        if len(pattern_paths) != 2 * self.modules or any(
            changed_lines(v1[p], v2[p]) != 1 for p in pattern_paths
        ):
            raise CommandFailed(
                f"the override does not change exactly one line of {2 * self.modules} files"
            )
        merged = {p: v2[p] + USER_EDIT if p in pattern_paths else v2[p] for p in paths}
        self.corpus = Corpus(paths, pattern_paths, v1, v2, merged)
        return self.corpus

    def build_only(self) -> None:
        """`build`, for a sweep instance: its corpus is its own, kept in `self.corpus`."""
        self.build()

    def install_override(self, project: Path) -> None:
        """Shadow the shipped genserver templates with copies changing one line each."""
        shipped = self.source / "templates" / "patterns" / "genserver"
        override = project / ".otpgen" / "templates" / "patterns" / "genserver"
        override.mkdir(parents=True, exist_ok=True)
        for name, (old, new) in TEMPLATE_CHANGES.items():
            text = (shipped / name).read_text()
            if text.count(old) != 1:
                raise CommandFailed(f"{name} no longer holds the line the benchmark changes")
            (override / name).write_text(text.replace(old, new))

    def setup(self, corpus: Corpus) -> None:
        """Done by `build`, which every other tool depends on."""

    def noop_round(self) -> dict[str, Timing]:
        figures = {self.name: timed([self.exe, "update"], self.project, self.env)}
        if self.variants:
            shutil.rmtree(self.cache)
            figures[self.EMPTY_CACHE] = timed([self.exe, "update"], self.project, self.env)
        if tree_digest(self.project) != self.noop_tree:
            raise CommandFailed("a no-op `otpgen update` changed the project")
        return figures

    def prepare_change(self, corpus: Corpus) -> None:
        corpus = self.corpus  # its own size's (the same as the peers' for the main instance)
        shutil.copytree(self.project, self.edited)
        corpus.user_edits(self.edited)
        self.install_override(self.edited)
        # Once, outside the timing: what `update` reports for each file.
        restore(self.edited, self.project)
        proc = run([self.exe, "update", "--format", "json"], self.project, self.env)
        self.statuses.update(f["action"] for f in json.loads(proc.stdout)["files"])
        require_files(self.project, corpus.merged, "otpgen update --format json")

    def change_round(self, corpus: Corpus) -> dict[str, Timing]:
        corpus = self.corpus
        restore(self.cache_v1, self.cache)
        restore(self.edited, self.project)
        figures = {self.name: timed([self.exe, "update"], self.project, self.env)}
        require_files(self.project, corpus.merged, "otpgen update")
        if self.variants:
            restore(self.edited, self.project)
            figures[self.NEW_RENDERS_CACHED] = timed([self.exe, "update"], self.project, self.env)
            require_files(self.project, corpus.merged, "otpgen update (new renders cached)")
        return figures


class GitPeer(Tool):
    """A peer whose template is a git repository and whose project must be one too."""

    project: Path

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        super().__init__(work, env)
        self.template = self.work / "template"
        self.edited = self.work / "project-edited"
        self.update: list[str] = []  # the update command, known once the tool is found
        self.noop_tree: dict[str, bytes] = {}
        self.identical = False  # whether its generation was checked against otpgen's

    @abstractmethod
    def template_files(self, files: Files) -> Files:
        """The template repository's files rendering `files` (the metadata included)."""

    def publish(self, files: Files, version: str) -> None:
        """Write the template's files for `files` and commit them, tagged `version`."""
        write_files(self.template, self.template_files(files))
        commit_all(self.template, self.env, f"template {version}", tag=version)

    def commit_project(self, corpus: Corpus) -> None:
        """Check the generation against otpgen's, and commit it as the user would."""
        require_files(self.project, corpus.v1, f"{self.name}'s generated files vs otpgen's")
        self.identical = True
        commit_all(self.project, self.env, "generated")
        self.noop_tree = tree_digest(self.project)

    def clean(self, what: str) -> None:
        """Fail when the project's git status is not clean."""
        status = git(self.project, self.env, "status", "--porcelain")
        if status.strip():
            raise CommandFailed(f"{what} left changes: {status.splitlines()[0].strip()}")

    def noop_round(self) -> dict[str, Timing]:
        timing = timed(self.update, self.project, self.env)
        if tree_digest(self.project) != self.noop_tree:
            raise CommandFailed(f"a no-op `{shown(self.update)}` changed the project")
        self.clean(f"a no-op `{shown(self.update)}`")
        return {self.name: timing}

    def prepare_change(self, corpus: Corpus) -> None:
        self.publish(corpus.v2, "v2")
        corpus.user_edits(self.project)
        git(self.project, self.env, "commit", "--quiet", "--all", "--message", "user edits")
        shutil.copytree(self.project, self.edited, symlinks=True)

    def change_round(self, corpus: Corpus) -> dict[str, Timing]:
        restore(self.edited, self.project)
        timing = timed(self.update, self.project, self.env)
        require_files(self.project, corpus.merged, f"after `{shown(self.update)}`")
        return {self.name: timing}


class Copier(GitPeer):
    """copier: a template repository tagged v1 then v2, `copier update --defaults`."""

    name = "copier"

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        super().__init__(work, env)
        self.project = self.work / "project"

    def template_files(self, files: Files) -> Files:
        meta = {
            "copier.yml": (
                "_subdirectory: template\n"
                f"package:\n  type: str\n  default: {PACKAGE}\n  help: The package.\n"
            ),
            "template/{{ _copier_conf.answers_file }}.jinja": (
                "# Changes here will be overwritten by Copier\n"
                "{{ _copier_answers | to_nice_yaml -}}\n"
            ),
        }
        rendered = template_files(files, "{{ package }}", "package")
        return meta | {f"template/{rel}.jinja": text for rel, text in rendered.items()}

    def setup(self, corpus: Corpus) -> None:
        exe = executable("copier")
        self.update = [exe, "update", "--defaults"]
        self.publish(corpus.v1, "v1")
        self.project.mkdir()
        make_project(self.project)
        commit_all(self.project, self.env, "project")
        run([exe, "copy", "--defaults", str(self.template), "."], self.project, self.env)
        self.commit_project(corpus)


class Cruft(GitPeer):
    """cruft: a cookiecutter template repository (v1, then v2 on its branch)."""

    name = "cruft"
    PROJECT = "shop_project"

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        super().__init__(work, env)
        self.project = self.work / self.PROJECT

    def template_files(self, files: Files) -> Files:
        context = {"project": self.PROJECT, "package": PACKAGE}
        rendered = template_files(files, "{{cookiecutter.package}}", "cookiecutter.package")
        return {"cookiecutter.json": json.dumps(context, indent=2) + "\n"} | {
            f"{{{{cookiecutter.project}}}}/{rel}": text for rel, text in rendered.items()
        }

    def setup(self, corpus: Corpus) -> None:
        exe = executable("cruft")
        self.update = [exe, "update", "--skip-apply-ask"]
        self.publish(corpus.v1, "v1")
        create = [exe, "create", "--no-input", "--output-dir", str(self.work)]
        run([*create, str(self.template)], self.work, self.env)
        make_project(self.project)
        self.commit_project(corpus)


# The run.


def environment(work: Path) -> dict[str, str]:
    """The environment of every command: private caches and configuration, a git identity."""
    config = work / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {work / 'cookiecutters'}\nreplay_dir: {work / 'cookiecutter-replay'}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OTPGEN_NO_CACHE"}
    identity = {"NAME": "benchmark", "EMAIL": "benchmark@example.invalid"}
    env.update(
        {f"GIT_{who}_{key}": v for who in ("AUTHOR", "COMMITTER") for key, v in identity.items()}
    )
    env.update(
        OTPGEN_CACHE_DIR=str(work / "otpgen-cache"),
        COOKIECUTTER_CONFIG=str(config),
        GIT_TERMINAL_PROMPT="0",
        NO_COLOR="1",
    )
    return env


def version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def report(
    tools: list[Tool], subject: Otpgen, sweep: list[Otpgen], rounds: int, python_start: Samples
) -> None:
    """Print every case with its ratio to otpgen, the sweep, and the targets."""
    print(
        f"otpgen update vs copier update vs cruft update on {GENERATED_FILES} generated files "
        f"({MODULES} genserver modules and their tests, {KERNEL_FILES} kernel files)"
    )
    print(
        f"python {platform.python_version()}, {platform.system()}, {os.cpu_count()} CPUs; ", end=""
    )
    print(
        ", ".join(
            f"{name} {version(name)}" for name in ("otpgen", "copier", "cruft", "cookiecutter")
        )
    )
    print(
        f"wall time of one command-line process, median [min .. max] of {rounds} rounds, and "
        "its median CPU time (user + system, its children's included)"
    )
    print(f"python start-up alone (`python -c pass`): {ms(python_start.median)}, in every figure")
    for tool in tools:
        if isinstance(tool, GitPeer) and tool.identical:
            print(
                f"{tool.name}: its template renders the {GENERATED_FILES} files byte-identical "
                "to otpgen's"
            )
    print(f"otpgen measured: {subject.provenance}")
    print("timed: otpgen update | copier update --defaults | cruft update --skip-apply-ask")
    print()
    titles = {
        NOOP: "no-op update: nothing changed since generation",
        CHANGE: f"change + merge: the templates change 1 line in each of {PATTERN_FILES} files, "
        "all edited by the user",
    }
    for case in CASES:
        print(titles[case])
        print(f"  {'':<28}{'median':>9}  {'[min .. max]':<24}{'CPU':>9}  ratio of medians")
        reference = subject.samples[case][subject.name].median
        for tool in tools:
            if tool.unavailable is not None:
                print(f"  {tool.name:<28}not measured: {tool.unavailable}")
                continue
            for label, samples in tool.samples[case].items():
                ratio = (
                    "" if label == subject.name else f"{samples.median / reference:6.1f}x otpgen"
                )
                print(f"  {label:<28}{samples.describe()}{ratio}".rstrip())
        print()
    counts = ", ".join(f"{status} {n}" for status, n in sorted(subject.statuses.items()))
    print(f"otpgen update --format json, change + merge (once, untimed): {counts}")
    print()

    sizes = sorted([subject, *sweep], key=lambda tool: tool.files)
    measured = [tool for tool in sizes if tool.unavailable is None]
    print("otpgen alone by project size: median; ms per generated file; marginal ms per file")
    print("(the marginal cost is the growth from the next smaller size over the files added)")
    for tool in sizes:
        if tool.unavailable is not None:
            print(f"  {tool.files:>4} files  not measured: {tool.unavailable}")
    for case in CASES:
        print(f"  {case}")
        previous: Otpgen | None = None
        for tool in measured:
            median = tool.samples[case][tool.name].median
            per_file = median * 1e3 / tool.files
            line = f"    {tool.files:>4} files {ms(median):>9}  {per_file:6.2f} ms/file"
            if previous is not None:
                line += f"  {marginal(previous, tool, case) * 1e3:6.2f} ms/file marginal"
            print(line)
            previous = tool
    print()

    print("targets (ratios of medians):")
    for case in CASES:
        cruft = next((t for t in tools if isinstance(t, Cruft)), None)
        if cruft is None or cruft.unavailable is not None:
            print(f"  cruft / otpgen, {case}: cruft not measured")
            continue
        faster = cruft.samples[case][cruft.name].median / subject.samples[case][subject.name].median
        verdict = "met" if faster >= CRUFT_TARGET else "MISSED"
        print(f"  cruft / otpgen, {case:<16}{faster:6.2f}x  >= {CRUFT_TARGET:g}  {verdict}")
    if len(measured) == len(SWEEP):
        for case in CASES:
            low = marginal(measured[0], measured[1], case)
            high = marginal(measured[1], measured[2], case)
            growth = high / low if low > 0 else float("inf")
            verdict = "met" if growth <= FLAT_TARGET else "MISSED"
            print(
                f"  marginal ms/file {measured[1].files}->{measured[2].files} / "
                f"{measured[0].files}->{measured[1].files}, {case:<16}{growth:6.2f}x  "
                f"<= {FLAT_TARGET:g}  {verdict}"
            )


def write_json(path: Path, tools: list[Tool], rounds: int, load_before: float) -> None:
    """Every measured case's medians (wall and CPU, ms) by tool, for benchmarks/plots.py."""
    wall: dict[str, dict[str, float]] = {case: {} for case in CASES}
    cpu: dict[str, dict[str, float]] = {case: {} for case in CASES}
    for tool in tools:
        if tool.unavailable is not None:
            continue
        for case in CASES:
            for label, samples in tool.samples[case].items():
                wall[case][label] = samples.median * 1e3
                cpu[case][label] = statistics.median(t.cpu for t in samples.values) * 1e3
    document = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "versions": {name: version(name) for name in ("otpgen", "copier", "cruft")},
        "files": GENERATED_FILES,
        "rounds": rounds,
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "medians_ms": wall,
        "cpu_medians_ms": cpu,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path}")


def marginal(small: Otpgen, large: Otpgen, case: str) -> float:
    """Seconds per file added from the project of `small` to that of `large`."""
    grow = large.samples[case][large.name].median - small.samples[case][small.name].median
    return grow / (large.files - small.files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="timed rounds per case")
    parser.add_argument(
        "--ref", help="measure otpgen as committed at this git ref (default: the working tree)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write every case's medians here"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="otpgen-update-bench-"))
    try:
        env = environment(work)
        python_start = Samples([timed([sys.executable, "-c", "pass"], work, env) for _ in range(5)])
        progress(f"otpgen: {MODULES} x `otpgen new genserver mN`, then the upgrade")
        try:
            source = work / "source"
            provenance = snapshot_source(source, args.ref, env)
            subject = Otpgen(work, env, source)
            subject.provenance = provenance
            corpus = subject.build()
        except (CommandFailed, Unavailable) as exc:
            print(f"otpgen failed: {exc}", file=sys.stderr)
            return 1
        sweep = [Otpgen(work, env, source, files) for files in SWEEP if files != GENERATED_FILES]
        for member in sweep:
            progress(
                f"{member.name}: {member.modules} x `otpgen new genserver mN`, then the upgrade"
            )
            member.attempt("set-up", member.build_only)
        tools: list[Tool] = [subject, *sweep, Copier(work, env), Cruft(work, env)]
        for tool in tools:
            progress(f"{tool.name}: template v1 and the project")
            tool.attempt("set-up", partial(tool.setup, corpus))
        for n in range(args.rounds):
            progress(f"{NOOP}, round {n + 1}/{args.rounds}")
            for tool in tools:
                tool.attempt(NOOP, tool.noop_round, case=NOOP)
        for tool in tools:
            progress(f"{tool.name}: template v2 and the user's edits")
            tool.attempt("preparing v2", partial(tool.prepare_change, corpus))
        for n in range(args.rounds):
            progress(f"{CHANGE}, round {n + 1}/{args.rounds}")
            for tool in tools:
                tool.attempt(CHANGE, partial(tool.change_round, corpus), case=CHANGE)
        if subject.unavailable is not None:
            print(f"otpgen failed: {subject.unavailable}", file=sys.stderr)
            return 1
        report(
            [tool for tool in tools if tool not in sweep], subject, sweep, args.rounds, python_start
        )
        if args.json is not None:
            write_json(args.json, tools, args.rounds, load_before)
        load = (
            f"load average (1 min) at the start {load_before:.2f}, "
            f"at the end {os.getloadavg()[0]:.2f} (this run's own processes included)"
        )
        print(f"whole run: {time.perf_counter() - started:.0f} s; {load}")
        cpus = os.cpu_count() or 1
        if load_before > cpus / 2:
            print(
                f"note: the machine was busy (its {cpus} CPUs shared with other work): wall "
                "times are inflated and spread; the CPU column suffers less"
            )
    finally:
        if args.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

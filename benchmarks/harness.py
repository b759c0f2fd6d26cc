"""Shared pieces of the kernel benchmarks: settings, statistics, result rows, printing.

Every benchmark repeats its measurement and keeps every sample, so a figure is always
reported as a median with its spread (quartiles and min/max), never as one lucky run.
Comparisons are ratios of medians taken in the same process run, side by side, and a
target is a line in the report (met or not), never an assertion.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
KERNEL_DIR = ROOT / "templates" / "kernel"
"""The directory holding the kernel package `otp` (import it as `import otp`)."""


@functools.cache
def kernel_snapshot() -> Path:
    """A private copy of the kernel's source, taken once per run, that `import otp` finds.

    The kernel may be edited while a run goes on, and the memory benchmark imports it
    afresh in every subprocess: measuring a snapshot keeps one run on one version of it.
    """
    snapshot = Path(tempfile.mkdtemp(prefix="otp-bench-"))
    atexit.register(shutil.rmtree, snapshot, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(KERNEL_DIR / "otp", snapshot / "otp", ignore=ignore)
    return snapshot


def use_kernel() -> None:
    """Make `import otp` find this run's snapshot of the kernel."""
    path = str(kernel_snapshot())
    if path not in sys.path:
        sys.path.insert(0, path)


def kernel_env() -> dict[str, str]:
    """The environment for a subprocess that imports this run's snapshot of the kernel."""
    env = dict(os.environ)
    paths = (str(kernel_snapshot()), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


@dataclass(frozen=True, slots=True)
class Config:
    """How big each benchmark is; `quick()` is the smoke-test size."""

    quick: bool
    call_rounds: int
    calls: int
    clients: int
    more_clients: tuple[int, ...]  # further concurrency levels: only otp and the floor
    memory_rounds: int
    tracemalloc_rounds: int
    workers: int
    restart_rounds: int
    restarts_per_round: int

    @classmethod
    def full(cls) -> Config:
        return cls(
            quick=False,
            call_rounds=11,
            calls=20_000,
            clients=10,
            more_clients=(100, 1000),
            memory_rounds=3,  # byte counts repeat exactly; 7 rounds took the run past 3 min
            tracemalloc_rounds=1,
            workers=100_000,
            restart_rounds=11,
            restarts_per_round=200,
        )

    @classmethod
    def smoke(cls) -> Config:
        return cls(
            quick=True,
            call_rounds=3,
            calls=2_000,
            clients=10,
            more_clients=(100, 1000),
            memory_rounds=2,
            tracemalloc_rounds=1,
            workers=10_000,
            restart_rounds=3,
            restarts_per_round=50,
        )


@dataclass(frozen=True, slots=True)
class Stats:
    """The distribution of a list of samples."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(statistics.median(ordered), q1, q3, ordered[0], ordered[-1], len(ordered))


@dataclass(slots=True)
class Row:
    """One measured figure: its samples (one per round, or one per event) and their unit."""

    name: str
    unit: str
    samples: list[float]
    note: str = ""

    @property
    def stats(self) -> Stats:
        return Stats.of(self.samples)

    def to_json(self) -> dict[str, Any]:
        s = self.stats
        return {
            "name": self.name,
            "unit": self.unit,
            "median": s.median,
            "q1": s.q1,
            "q3": s.q3,
            "min": s.min,
            "max": s.max,
            "n": s.n,
            "note": self.note,
            "samples": self.samples,
        }


@dataclass(frozen=True, slots=True)
class Target:
    op: Literal["<=", ">="]
    bound: float

    def met_by(self, value: float) -> bool:
        return value <= self.bound if self.op == "<=" else value >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {_number(self.bound)}"


@dataclass(frozen=True, slots=True)
class Derived:
    """A figure computed from medians (a ratio, or a median checked against a target)."""

    name: str
    value: float
    unit: str = "x"
    target: Target | None = None

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.target.met_by(self.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "target": None if self.target is None else str(self.target),
            "met": self.met,
        }


@dataclass(slots=True)
class Group:
    """The result of one benchmark module."""

    title: str
    other_load: float | None = None  # CPUs used by other processes meanwhile (OtherLoad)
    rows: list[Row] = field(default_factory=list)
    derived: list[Derived] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, unit: str, samples: list[float], note: str = "") -> Row:
        row = Row(name, unit, samples, note)
        self.rows.append(row)
        return row

    def row(self, name: str) -> Row:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def ratio(self, name: str, top: str, bottom: str, target: Target | None = None) -> None:
        """Add `median(top) / median(bottom)` as a derived figure, if both were measured."""
        try:
            value = self.row(top).stats.median / self.row(bottom).stats.median
        except KeyError:
            return
        self.derived.append(Derived(name, value, "x", target))

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "other_load_cpus": self.other_load,
            "rows": [row.to_json() for row in self.rows],
            "derived": [d.to_json() for d in self.derived],
            "notes": self.notes,
        }


def machine() -> dict[str, Any]:
    """What the figures were measured on, including which kernel source was measured."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel_commit": _git("rev-parse", "--short", "HEAD"),
        "kernel_modified": bool(_git("status", "--porcelain", "--", "templates/kernel")),
        "kernel_digest": kernel_digest(),
        "load_average": load_average(),
    }


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def kernel_digest(kernel_dir: Path | None = None) -> str:
    """A short hash of the kernel's source (this run's snapshot unless `kernel_dir` is
    given), naming exactly which code was measured."""
    digest = hashlib.sha256()
    for path in sorted(((kernel_dir or kernel_snapshot()) / "otp").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


class OtherLoad:
    """How much CPU other processes used while a block ran, in CPUs (0.0 to os.cpu_count()).

    Other work on the machine inflates every timing here; this says how much there was,
    so a disturbed figure can be told apart from a real change. Linux only (else None).
    """

    def __init__(self) -> None:
        self.cpus: float | None = None

    def __enter__(self) -> OtherLoad:
        self._start = (time.perf_counter(), _busy_seconds(), _own_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, busy0, own0 = self._start
        busy1 = _busy_seconds()
        if busy0 is None or busy1 is None:
            return
        wall = time.perf_counter() - wall0
        others = (busy1 - busy0) - (_own_seconds() - own0)
        self.cpus = max(0.0, others / wall) if wall > 0 else None


def _busy_seconds() -> float | None:
    """CPU seconds all processes spent not idle since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    guest = sum(fields[8:10])  # already counted in user and nice
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_group(group: Group) -> str:
    """The group as a plain-text table."""
    lines = [f"== {group.title} =="]
    if group.rows:
        width = max(len(row.name) for row in group.rows)
        lines.append(
            f"{'benchmark':<{width}}  {'median':>10}  {'unit':<6}  {'q1..q3':>17}  "
            f"{'min..max':>17}  {'n':>5}"
        )
        for row in group.rows:
            s = row.stats
            lines.append(
                f"{row.name:<{width}}  {_number(s.median):>10}  {row.unit:<6}  "
                f"{_number(s.q1) + '..' + _number(s.q3):>17}  "
                f"{_number(s.min) + '..' + _number(s.max):>17}  {s.n:>5}"
            )
    if group.derived:
        width = max(len(d.name) for d in group.derived)
        lines.append("")
        lines.append(f"{'derived':<{width}}  {'value':>10}  {'target':>10}  met")
        for d in group.derived:
            target = "" if d.target is None else str(d.target)
            met = "" if d.met is None else ("yes" if d.met else "NO")
            value = _number(d.value) + ("x" if d.unit == "x" else f" {d.unit}")
            lines.append(f"{d.name:<{width}}  {value:>10}  {target:>10}  {met}")
    for note in group.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def otpgen_command() -> tuple[list[str], dict[str, str]]:
    """How to run this checkout's otpgen: the command and its environment.

    Not the `otpgen` first on PATH, which may be another checkout's install (rendering
    its templates, not these): this checkout's `src` comes first on the import path,
    and its `otpgen` uses this checkout's templates. No render cache: every run renders.
    """
    env = dict(os.environ)
    paths = (str(ROOT / "src"), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["OTPGEN_NO_CACHE"] = "1"
    return [sys.executable, "-m", "otpgen"], env

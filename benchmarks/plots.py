"""Draw the charts of docs/benchmarks.md: `python benchmarks/plots.py [--out DIR]`.

Reads the results the benchmarks write, and for a benchmark whose result file is absent,
the figures recorded in docs/benchmarks.md:

- `benchmarks/results/kernel.json` (`python benchmarks/run.py --json PATH`): the kernel
  beside its floor (bare asyncio) and its peers, as ratios of medians: call round trip,
  memory per idle process, restart latency;
- `benchmarks/results/cli.json` (`python benchmarks/cli.py --json PATH`), else the ratio
  column of the latest run's table in docs/benchmarks.md §4: cookiecutter and copier over
  `otpgen new` / `otpgen init`;
- `benchmarks/results/update.json` (`python benchmarks/update.py --json PATH`), else the
  latest run's table in §5 (wall and CPU time): copier and cruft over `otpgen update`.

Writes one PNG per chart under docs/img/benchmarks/ (small: ~100 dpi, a few tens of KB),
each titled with where its figures come from, and prints what it wrote. A ratio is always
of two medians taken in one run; a chart never mixes runs. Needs matplotlib (the `docs`
extra).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
OUT = ROOT / "docs" / "img" / "benchmarks"

DPI = 100
OTPGEN = "#3f51b5"  # material's indigo: otpgen's own bars
PEER = "#9e9e9e"
FLOOR = "#43a047"


class MissingFigures(Exception):
    """A chart's figures are neither in a result file nor in docs/benchmarks.md."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: a label and a ratio (of two medians of one run)."""

    label: str
    ratio: float
    ours: bool = False
    target: float | None = None  # the ratio the benchmark's target asks for, if any


@dataclass(frozen=True, slots=True)
class Panel:
    """One set of bars on a shared axis, with an optional target or reference line."""

    title: str
    bars: list[Bar]
    xlabel: str
    line: float | None = None
    line_label: str = ""


# --- the kernel: benchmarks/results/kernel.json ----------------------------------------


def _medians(document: dict[str, Any]) -> dict[str, float]:
    return {
        row["name"]: float(row["median"]) for group in document["groups"] for row in group["rows"]
    }


def _ratio_bars(
    medians: dict[str, float], floor: str, rows: Sequence[tuple[str, str, bool]]
) -> list[Bar]:
    """Bars of row / floor for the rows present (a renamed or dropped row is left out)."""
    if floor not in medians:
        raise MissingFigures(f"kernel.json has no row {floor!r}")
    return [
        Bar(label, medians[name] / medians[floor], ours)
        for name, label, ours in rows
        if name in medians
    ]


def kernel_panels(document: dict[str, Any]) -> list[Panel]:
    """The kernel beside its floor: call (1 and 10 clients), memory, restart."""
    medians = _medians(document)
    floor_line = "floor (bare asyncio) = 1"
    return [
        Panel(
            "GenServer call, 1 client: time per call / floor",
            _ratio_bars(
                medians,
                "floor: deque mailbox + future, 1 client",
                [
                    ("otp call (default timeout), 1 client", "otp call", True),
                    ("otp call (timeout=None), 1 client", "otp call, timeout=None", True),
                    ("otp via(registry, key).call, 1 client", "otp via(...).call", True),
                    ("pykka ThreadingActor ask, 1 thread", "pykka ask", False),
                    ("pykka proxy method .get(), 1 thread", "pykka proxy .get()", False),
                    ("triotp gen_server.call, 1 task", "triotp call", False),
                ],
            ),
            "ratio of medians (lower is faster)",
            1.0,
            floor_line,
        ),
        Panel(
            "GenServer call, 10 clients: time per call / floor",
            _ratio_bars(
                medians,
                "floor: deque mailbox + future, 10 clients",
                [
                    ("otp call (default timeout), 10 clients", "otp call", True),
                    ("otp call (timeout=None), 10 clients", "otp call, timeout=None", True),
                    ("pykka ThreadingActor ask, 10 threads", "pykka ask", False),
                    ("triotp gen_server.call, 10 tasks", "triotp call", False),
                ],
            ),
            "ratio of medians (lower is faster)",
            1.0,
            floor_line,
        ),
        Panel(
            "Memory per idle process (RSS) / floor",
            _ratio_bars(
                medians,
                "RSS per process: floor: idle asyncio task awaiting a future",
                [
                    ("RSS per process: bare GenServer", "GenServer", True),
                    (
                        "RSS per process: GenServer + via(Registry), no supervisor",
                        "+ via(Registry)",
                        True,
                    ),
                    (
                        "RSS per process: GenServer + via(Registry) under DynamicSupervisor",
                        "+ DynamicSupervisor",
                        True,
                    ),
                ],
            ),
            "ratio of medians (lower is smaller)",
            1.0,
            "floor (an idle asyncio task) = 1",
        ),
        Panel(
            "Restart latency / floor",
            _ratio_bars(
                medians,
                "floor: task crash -> done callback -> new task",
                [
                    ("Supervisor one_for_one", "Supervisor", True),
                    ("DynamicSupervisor", "DynamicSupervisor", True),
                ],
            ),
            "ratio of medians (lower is faster)",
            1.0,
            "floor (done callback, new task) = 1",
        ),
    ]


def kernel_source(document: dict[str, Any]) -> str:
    machine = document.get("machine", {})
    return (
        f"benchmarks/results/kernel.json: kernel {machine.get('kernel_commit') or '?'}, "
        f"CPython {machine.get('python', '?')}, {machine.get('cpus', '?')} CPUs"
    )


# --- docs/benchmarks.md's tables, for the benchmarks without a result file -------------


def _milliseconds(cell: str) -> float:
    """'1,216 ms' or '118.5 ms' -> 1216.0 / 118.5; a cell holding anything else fails."""
    match = re.fullmatch(r"\s*([\d,]+(?:\.\d+)?)\s*ms\s*", cell)
    if match is None:
        raise MissingFigures(f"not a time in ms: {cell!r}")
    return float(match[1].replace(",", ""))


def markdown_table(text: str, header: str) -> list[list[str]]:
    """The body rows (cells stripped) of the first table whose header row starts `header`."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(header):
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            return rows
    raise MissingFigures(f"docs/benchmarks.md has no table starting {header!r}")


def _run_line(text: str, header: str) -> str:
    """The run above a table (its bold title, or its date and commit), for the chart."""
    before = text[: text.index(header)].splitlines()
    for line in reversed(before[-16:]):
        bold = re.match(r"\*\*([^*]+)\*\*", line)
        if bold:
            return bold[1].replace("`", "")
        found = re.search(r"(\d{4}-\d{2}-\d{2})[^`]*?commit `([0-9a-f]+)`", line)
        if found:
            return f"run of {found[1]}, commit {found[2]}"
    return "run not named"


CLI_SECTION = "## 4. The command line"
CLI_HEADER = "| | median | quartiles | ratio | target | met |"
# benchmarks/cli.py's case names, for its --json output
CLI_JSON = {
    "new": "otpgen new (existing project)",
    "cookiecutter": "cookiecutter (same 2 files)",
    "copier": "copier, git template (same 2)",
    "fresh new": "otpgen new (fresh project)",
    "fresh cookiecutter": "cookiecutter (same 12 files)",
    "fresh copier": "copier, git template (same 12)",
    "init": "otpgen init",
    "service cookiecutter": "cookiecutter (service skeleton)",
}
CLI_CASES = ("existing project", "fresh project", "init")
"""The commands compared: `new` in an existing project, `new` in a fresh one, `init`."""

CliRatios = dict[str, dict[str, float]]
"""case -> peer -> the peer's median over otpgen's."""


def _ratios(cell: str) -> dict[str, float]:
    """'3.18x' -> {'': 3.18}; 'cookiecutter 2.06x, copier 5.48x' -> by peer."""
    found = re.findall(r"(?:([a-z]+) )?(\d+(?:\.\d+)?)x", cell)
    return {peer: float(value) for peer, value in found}


def cli_ratios_from_doc(text: str) -> tuple[CliRatios, str]:
    """The ratio column of the first (the latest) run's table in §4."""
    if CLI_SECTION not in text:
        raise MissingFigures(f"docs/benchmarks.md has no section {CLI_SECTION!r}")
    section = text[text.index(CLI_SECTION) :]
    rows = markdown_table(section, CLI_HEADER)
    ratios: CliRatios = {case: {} for case in CLI_CASES}
    for row in rows:
        name, cell = row[0], row[3] if len(row) > 3 else ""
        if name.startswith("cookiecutter, same 2 files"):
            ratios["existing project"]["cookiecutter"] = _ratios(cell)[""]
        elif name.startswith("copier (git), same 2 files"):
            ratios["existing project"]["copier"] = _ratios(cell)[""]
        elif name.startswith("`otpgen new`, fresh project"):
            ratios["fresh project"].update(_ratios(cell))
        elif name.startswith("`otpgen init`"):
            ratios["init"].update(_ratios(cell))
    if not all(ratios.values()):
        raise MissingFigures(f"docs/benchmarks.md §4's latest table lacks a ratio: {ratios}")
    return ratios, f"docs/benchmarks.md §4: {_run_line(section, CLI_HEADER)}"


def cli_ratios_from_json(document: dict[str, Any]) -> tuple[CliRatios, str]:
    medians = {key: float(document["medians_ms"][name]) for key, name in CLI_JSON.items()}
    ratios = {
        "existing project": {
            "cookiecutter": medians["cookiecutter"] / medians["new"],
            "copier": medians["copier"] / medians["new"],
        },
        "fresh project": {
            "cookiecutter": medians["fresh cookiecutter"] / medians["fresh new"],
            "copier": medians["fresh copier"] / medians["fresh new"],
        },
        "init": {"cookiecutter": medians["service cookiecutter"] / medians["init"]},
    }
    source = (
        f"benchmarks/results/cli.json: {document.get('date', '?')}, "
        f"otpgen {document.get('versions', {}).get('otpgen', '?')}"
    )
    return ratios, source


CLI_TITLES = {
    "existing project": "otpgen new, existing project (a module and its test)",
    "fresh project": "otpgen new, fresh project (the kernel too)",
    "init": "otpgen init (service skeleton)",
}
CLI_TARGETS = {("existing project", "cookiecutter"): 2.5, ("existing project", "copier"): 6.0}
CLI_TARGETS |= {("init", "cookiecutter"): 1.0}


def cli_panels(ratios: CliRatios) -> list[Panel]:
    """The peers' wall time over otpgen's, per command: above 1, otpgen is faster."""
    return [
        Panel(
            CLI_TITLES[case],
            [
                Bar(
                    "copier (git template)" if peer == "copier" else peer,
                    ratio,
                    target=CLI_TARGETS.get((case, peer)),
                )
                for peer, ratio in ratios[case].items()
            ],
            "peer's median / otpgen's (higher: otpgen faster)",
            1.0,
            "as fast as otpgen",
        )
        for case in CLI_CASES
    ]


UPDATE_SECTION = "## 5. `otpgen update` beside copier and cruft"
UPDATE_COLUMNS = "| no-op: median wall | CPU | change + merge (190 edited): median wall | CPU |"
"""The header of §5's run tables (after its first cell, the project's size)."""
UPDATE_HEADERS = {
    "no-op": "| no-op update (nothing changed), 200 files |",
    "change + merge": "| change + merge of 190 edited files |",
}
"""The quiet run's tables, one per case, for a page without the tables above."""
TOOLS = ("otpgen", "copier", "cruft")

UpdateMedians = dict[str, dict[str, float]]
"""case -> tool (or "tool CPU") -> median ms."""


def update_medians_from_doc(text: str) -> tuple[UpdateMedians, str]:
    """§5's latest run (wall and CPU), else its quiet run's two tables (wall)."""
    section = text[text.index(UPDATE_SECTION) :] if UPDATE_SECTION in text else text
    header = next((line for line in section.splitlines() if line.endswith(UPDATE_COLUMNS)), None)
    if header is not None:
        rows = {row[0]: row for row in markdown_table(section, header)}
        if not set(TOOLS) <= rows.keys():
            raise MissingFigures(f"docs/benchmarks.md §5's latest table lacks one of {TOOLS}")
        medians: UpdateMedians = {"no-op": {}, "change + merge": {}}
        for tool in TOOLS:
            cells = [_milliseconds(cell) for cell in rows[tool][1:5]]
            medians["no-op"] |= {tool: cells[0], f"{tool} CPU": cells[1]}
            medians["change + merge"] |= {tool: cells[2], f"{tool} CPU": cells[3]}
        return medians, f"docs/benchmarks.md §5: {_run_line(section, header)}"
    medians = {}
    for case, title in UPDATE_HEADERS.items():
        table = {row[0]: _milliseconds(row[1]) for row in markdown_table(text, title)}
        if not set(TOOLS) <= table.keys():
            raise MissingFigures(f"docs/benchmarks.md §5's {case} table lacks a tool")
        medians[case] = table
    first = next(iter(UPDATE_HEADERS.values()))
    return medians, f"docs/benchmarks.md §5: {_run_line(text, first)}"


def update_medians_from_json(document: dict[str, Any]) -> tuple[UpdateMedians, str]:
    medians = {
        case: {k: float(v) for k, v in rows.items()}
        for case, rows in document["medians_ms"].items()
    }
    for case, rows in document.get("cpu_medians_ms", {}).items():
        medians.setdefault(case, {}).update({f"{k} CPU": float(v) for k, v in rows.items()})
    files = document.get("files", "?")
    return medians, f"benchmarks/results/update.json: {document.get('date', '?')}, {files} files"


def update_panels(medians: UpdateMedians) -> list[Panel]:
    """Per case, each peer over otpgen in wall time, and in CPU time where it was measured."""
    panels = []
    for case, rows in medians.items():
        bars = []
        for tool in ("copier", "cruft"):
            target = 3.0 if tool == "cruft" else None
            if tool in rows:
                bars.append(Bar(f"{tool}, wall", rows[tool] / rows["otpgen"], target=target))
            if f"{tool} CPU" in rows and "otpgen CPU" in rows:
                ratio = rows[f"{tool} CPU"] / rows["otpgen CPU"]
                bars.append(Bar(f"{tool}, CPU", ratio, target=target))
        panels.append(
            Panel(
                f"otpgen update, {case}",
                bars,
                "peer's median / otpgen's (higher: otpgen faster)",
                1.0,
                "as fast as otpgen",
            )
        )
    return panels


# --- drawing -------------------------------------------------------------------------


def draw(panels: Sequence[Panel], title: str, source: str, path: Path) -> Path:
    """One figure: the panels stacked, bars horizontal, each labelled with its ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    heights = [0.5 + 0.34 * len(panel.bars) for panel in panels]
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(7.0, 0.9 + sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for axis, panel in zip(axes[:, 0], panels, strict=True):
        labels = [bar.label for bar in panel.bars]
        ratios = [bar.ratio for bar in panel.bars]
        colors = [OTPGEN if bar.ours else PEER for bar in panel.bars]
        axis.barh(range(len(ratios)), ratios, color=colors, height=0.6)
        axis.set_ylim(len(ratios) - 0.5, -1.0)  # room above the first bar for the labels
        axis.set_yticks(range(len(ratios)), labels, fontsize=8)
        axis.set_title(panel.title, fontsize=9, loc="left")
        axis.tick_params(axis="x", labelsize=7)
        axis.set_xlabel(panel.xlabel, fontsize=7)
        top = max([*ratios, panel.line or 0.0, *(b.target or 0.0 for b in panel.bars)]) * 1.18
        axis.set_xlim(0, top)
        for index, ratio in enumerate(ratios):
            axis.text(ratio + top * 0.01, index, f"{ratio:.2f}x", va="center", fontsize=7)
        targets = [(i, bar.target) for i, bar in enumerate(panel.bars) if bar.target]
        for index, target in targets:
            axis.plot([target, target], [index - 0.4, index + 0.4], color="#d32f2f", linewidth=2)
        if targets:
            axis.text(top, -0.75, "red: target", color="#d32f2f", fontsize=7, ha="right")
        if panel.line is not None:
            axis.axvline(panel.line, color=FLOOR, linestyle="--", linewidth=1)
            axis.text(panel.line, -0.75, f" {panel.line_label}", color=FLOOR, fontsize=7)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    figure.suptitle(title, fontsize=10, x=0.02, ha="left")
    figure.text(0.02, 0.005, source, fontsize=6.5, color="#555555", ha="left", va="bottom")
    figure.tight_layout(rect=(0, 0.03, 1, 0.98))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return path


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def plot_all(results: Path, doc: Path, out: Path) -> list[Path]:
    """Every chart whose figures exist; raises MissingFigures for one that has none."""
    written = []
    text = doc.read_text(encoding="utf-8")
    kernel = _load(results / "kernel.json")
    if kernel is None:
        raise MissingFigures(f"no {results / 'kernel.json'}: run benchmarks/run.py --json")
    written.append(
        draw(
            kernel_panels(kernel),
            "The kernel beside its floor and its peers (ratio of medians to bare asyncio)",
            kernel_source(kernel),
            out / "kernel-vs-floor.png",
        )
    )
    cli = _load(results / "cli.json")
    cli_ratios, cli_source = cli_ratios_from_json(cli) if cli else cli_ratios_from_doc(text)
    written.append(
        draw(
            cli_panels(cli_ratios),
            "Generating code: cookiecutter and copier beside otpgen (wall time ratio)",
            cli_source,
            out / "cli-vs-peers.png",
        )
    )
    update = _load(results / "update.json")
    update_medians, update_source = (
        update_medians_from_json(update) if update else update_medians_from_doc(text)
    )
    written.append(
        draw(
            update_panels(update_medians),
            "Regenerating: copier and cruft beside otpgen update (wall and CPU time ratios)",
            update_source,
            out / "update-vs-peers.png",
        )
    )
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=RESULTS, help="the result files' directory")
    parser.add_argument("--doc", type=Path, default=DOC, help="docs/benchmarks.md, for fallbacks")
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go")
    args = parser.parse_args(argv)
    try:
        written = plot_all(args.results, args.doc, args.out)
    except MissingFigures as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The documentation site: it builds strictly, its kernel reference follows the kernel, every
pattern page draws its tree, and the benchmark charts are drawn from the results.

The site build and the charts need the `docs` extra (mkdocs-material, mkdocstrings,
matplotlib), which the `test` extra includes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 100 * 1024


def _kernel_exports() -> list[str]:
    """`otp.__all__`, read from the kernel's source (the kernel is not installed)."""
    source = (ROOT / "templates/kernel/otp/__init__.py").read_text(encoding="utf-8")
    match = re.search(r"^__all__ = \[(.*?)^\]", source, re.MULTILINE | re.DOTALL)
    assert match is not None, "templates/kernel/otp/__init__.py has no __all__ list"
    return re.findall(r'"([^"]+)"', match[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr
    return out


def test_the_site_builds_strictly_with_the_tutorial_and_the_reference(site: Path) -> None:
    for page in ("tutorial", "reference/kernel", "benchmarks", "cli"):
        assert (site / page / "index.html").is_file(), page


def test_the_kernel_reference_renders_every_name_the_kernel_exports(site: Path) -> None:
    html = (site / "reference/kernel/index.html").read_text(encoding="utf-8")
    anchors = set(re.findall(r'id="otp\.([A-Za-z_][A-Za-z0-9_]*)"', html))
    exported = _kernel_exports()
    assert {"GenServer", "Supervisor", "DynamicSupervisor", "Registry", "TaskSupervisor"} <= set(
        exported
    )
    missing = [name for name in exported if name not in anchors]
    assert not missing, f"the reference lacks {missing}"
    # methods are rendered from their docstrings, under their class
    assert 'id="otp.GenServer.call"' in html
    assert "Stop the process with" in html  # GenServer.stop's docstring
    # private names stay out
    assert not re.search(r'id="otp\.[A-Za-z.]*\._', html)


def test_every_pattern_page_draws_a_diagram() -> None:
    patterns = sorted(p.name for p in (ROOT / "templates/patterns").iterdir() if p.is_dir())
    assert patterns
    for pattern in patterns:
        page = DOCS / "patterns" / f"{pattern}.md"
        assert "```mermaid" in page.read_text(encoding="utf-8"), f"{page} has no diagram"
    session = (DOCS / "patterns/session-worker.md").read_text(encoding="utf-8")
    assert "sequenceDiagram" in session
    assert "stateDiagram-v2" in session
    assert "```mermaid" in (DOCS / "cli.md").read_text(encoding="utf-8")


def _plots() -> ModuleType:
    pytest.importorskip("matplotlib", reason="the docs extra is not installed")
    spec = importlib.util.spec_from_file_location("plots", ROOT / "benchmarks/plots.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["plots"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _kernel_fixture(scale: float) -> dict[str, object]:
    names = {
        "otp call (default timeout), 1 client": 8.0,
        "floor: deque mailbox + future, 1 client": 6.4,
        "pykka ThreadingActor ask, 1 thread": 27.0,
        "triotp gen_server.call, 1 task": 45.0,
        "otp call (default timeout), 10 clients": 3.4,
        "floor: deque mailbox + future, 10 clients": 1.9,
        "RSS per process: bare GenServer": 1220.0,
        "RSS per process: floor: idle asyncio task awaiting a future": 925.0,
        "Supervisor one_for_one": 38.0,
        "floor: task crash -> done callback -> new task": 17.0 * scale,
    }
    rows = [{"name": name, "median": value} for name, value in names.items()]
    return {
        "machine": {"kernel_commit": "abc1234", "python": "3.11", "cpus": 2},
        "groups": [{"title": "all", "rows": rows}],
    }


DOC_FIXTURE = """\
# Benchmarks

## 4. The command line

**Quiet re-run, 2026-12-02 05:18 UTC, commit `e14d63c`** (a fixture).

| | median | quartiles | ratio | target | met |
| --- | ---: | ---: | ---: | --- | --- |
| `otpgen new`, new name, existing project | 100.0 ms | 1 - 2 | | | |
| cookiecutter, same 2 files | 250.0 ms | 1 - 2 | 2.50x | >= 2.5x | yes |
| copier (git), same 2 files | 1,000 ms | 1 - 2 | 10.00x | >= 6x | yes |
| `otpgen new`, fresh project (17 files) | 200.0 ms | 1 - 2 | cookiecutter 2.06x, copier 5.48x | | |
| `otpgen init` | 261.5 ms | 1 - 2 | cookiecutter 1.55x | >= 1x | yes |

**An older run, 2026-12-01, commit `0000000`**: not the one to plot.

| | median | quartiles | ratio | target | met |
| --- | ---: | ---: | ---: | --- | --- |
| cookiecutter, same 2 files | 250.0 ms | 1 - 2 | 9.99x | >= 2.5x | yes |

## 5. `otpgen update`

## 5. `otpgen update` beside copier and cruft

**Latest run, 2026-12-02, commit `d779916`** (a fixture).

| 207 files | no-op: median wall | CPU | change + merge (190 edited): median wall | CPU |
| --- | ---: | ---: | ---: | ---: |
| otpgen | 200 ms | 100 ms | 1,000 ms | 500 ms |
| copier | 16,000 ms | 6,000 ms | 15,000 ms | 6,000 ms |
| cruft | 1,000 ms | 400 ms | 4,000 ms | 1,500 ms |

2026-12-01, commit `dc5b9e3`, the quiet run (read only without the table above).

| no-op update (nothing changed), 200 files | median | min - max | CPU (median) |
| --- | ---: | ---: | ---: |
| otpgen | 100 ms | 1 - 2 | 100 ms |
| copier | 4,000 ms | 1 - 2 | 1 ms |
| cruft | 500 ms | 1 - 2 | 1 ms |

| change + merge of 190 edited files | median | min - max | CPU (median) |
| --- | ---: | ---: | ---: |
| otpgen | 600 ms | 1 - 2 | 1 ms |
| copier | 5,400 ms | 1 - 2 | 1 ms |
| cruft | 1,800 ms | 1 - 2 | 1 ms |
"""


def test_plots_draw_every_chart_from_results_and_the_page(tmp_path: Path) -> None:
    plots = _plots()
    results, out = tmp_path / "results", tmp_path / "out"
    results.mkdir()
    (results / "kernel.json").write_text(json.dumps(_kernel_fixture(1.0)))
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC_FIXTURE, encoding="utf-8")
    written = plots.plot_all(results, doc, out)
    assert sorted(p.name for p in written) == [
        "cli-vs-peers.png",
        "kernel-vs-floor.png",
        "update-vs-peers.png",
    ]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) < MAX_PNG_BYTES, f"{path.name} is {len(data)} bytes"
    # the ratios are the ones the page's latest run gives
    ratios, source = plots.cli_ratios_from_doc(DOC_FIXTURE)
    assert ratios == {
        "existing project": {"cookiecutter": 2.5, "copier": 10.0},
        "fresh project": {"cookiecutter": 2.06, "copier": 5.48},
        "init": {"cookiecutter": 1.55},
    }
    assert source == "docs/benchmarks.md §4: Quiet re-run, 2026-12-02 05:18 UTC, commit e14d63c"
    targets = [(b.label, b.target) for b in plots.cli_panels(ratios)[0].bars]
    assert targets == [("cookiecutter", 2.5), ("copier (git template)", 6.0)]
    update, source = plots.update_medians_from_doc(DOC_FIXTURE)
    assert source == "docs/benchmarks.md §5: Latest run, 2026-12-02, commit d779916"
    change = plots.update_panels(update)[1]
    assert [(b.label, b.ratio, b.target) for b in change.bars] == [
        ("copier, wall", 15.0, None),
        ("copier, CPU", 12.0, None),
        ("cruft, wall", 4.0, 3.0),
        ("cruft, CPU", 3.0, 3.0),
    ]
    # a page whose §5 has only the quiet run's two tables: wall time from them
    quiet = (
        DOC_FIXTURE[: DOC_FIXTURE.index("**Latest run")]
        + DOC_FIXTURE[DOC_FIXTURE.index("2026-12-01, commit `dc5b9e3`, the quiet run") :]
    )
    update, _ = plots.update_medians_from_doc(quiet)
    assert [b.ratio for b in plots.update_panels(update)[0].bars] == [40.0, 5.0]
    kernel = plots.kernel_panels(_kernel_fixture(2.0))
    restart = next(panel for panel in kernel if panel.title.startswith("Restart"))
    assert [(b.label, b.ratio) for b in restart.bars] == [("Supervisor", 38.0 / 34.0)]


def test_plots_prefer_a_saved_run_to_the_page(tmp_path: Path) -> None:
    plots = _plots()
    medians_ms = dict.fromkeys(plots.CLI_JSON.values(), 100.0)
    medians_ms["cookiecutter (same 2 files)"] = 300.0
    saved = {"date": "2026-12-03", "versions": {"otpgen": "9.9"}, "medians_ms": medians_ms}
    ratios, source = plots.cli_ratios_from_json(saved)
    assert plots.cli_panels(ratios)[0].bars[0].ratio == 3.0
    assert source.startswith("benchmarks/results/cli.json: 2026-12-03")


def test_plots_name_what_is_missing(tmp_path: Path) -> None:
    plots = _plots()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n", encoding="utf-8")
    (tmp_path / "kernel.json").write_text(json.dumps(_kernel_fixture(1.0)))
    with pytest.raises(plots.MissingFigures, match=r"no section '## 4. The command line'"):
        plots.plot_all(tmp_path, doc, tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plots.main(["--results", str(empty), "--doc", str(doc), "--out", str(tmp_path)]) == 2


def test_the_committed_charts_are_small_pngs_the_page_shows() -> None:
    page = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\((img/benchmarks/[^)]+\.png)\)", page)
    assert len(shown) == 3
    for relative in shown:
        data = (DOCS / relative).read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) < MAX_PNG_BYTES, f"{relative} is {len(data)} bytes"

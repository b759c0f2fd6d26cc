"""Data flows one way: CLI -> commands -> stages. A test keeps the layers honest.

- the CLI parses, calls the engine and prints through one emitter (`_report`): the typer
  application (`_cli`), the entry point (`_entry`, `__main__`), the fast path that parses
  plain command lines without typer (`_fastpath`), and what both hand the parsed command
  to (`_commands`);
- the commands (`_generate` for new, `_init`, `_update` for update and check) each build a
  Plan from the stages;
- the stages (render, format, plan, apply, manifest, merge, wire, ...) know nothing of the
  commands, the emitter or the CLI; and nothing but the typer application and the entry
  point (for everything the fast path leaves to typer) imports typer or click.
"""

import ast
from pathlib import Path

import otpgen

PACKAGE = Path(otpgen.__file__).parent
CLI = {"_cli", "_entry", "__main__", "_commands", "_fastpath", "_observe"}
TYPER = {"_cli", "_entry"}
RICH = TYPER | {"_observe"}  # may draw with rich (typer brings it), never parse with typer
EMITTER = {"_report"}
COMMANDS = {"_generate", "_init", "_update", "_remove"}


def imports(module: str) -> set[str]:
    """Every module `module` imports, at the top or inside a function."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "otpgen":
                found.update(f"otpgen.{alias.name}" for alias in node.names)
    return found


def ours(names: set[str]) -> set[str]:
    return {name.removeprefix("otpgen.") for name in names if name.startswith("otpgen.")}


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))
STAGES = set(MODULES) - CLI - EMITTER - COMMANDS - {"__init__"}


def test_the_layers_cover_every_module() -> None:
    assert {"_apply", "_plan", "_render", "_format", "_manifest", "_merge", "_wire"} <= STAGES
    assert set(MODULES) >= COMMANDS


def test_only_the_typer_front_end_imports_typer_or_click() -> None:
    for module in set(MODULES) - TYPER:
        allowed = {"rich"} if module in RICH else set()
        heavy = {n for n in imports(module) if n.split(".")[0] in {"typer", "click", "rich"}}
        heavy = {n for n in heavy if n.split(".")[0] not in allowed}
        assert not heavy, f"{module} imports {heavy}"


def test_the_observer_front_end_stands_alone() -> None:
    assert ours(imports("_observe")) <= {"_version"}
    for module in set(MODULES) - {"_cli"}:
        assert "_observe" not in ours(imports(module)), f"{module} imports _observe"


def test_the_engine_never_imports_the_cli_or_the_emitter() -> None:
    for module in COMMANDS | STAGES:
        assert not ours(imports(module)) & (CLI | EMITTER), module


def test_stages_never_import_commands() -> None:
    for module in STAGES:
        assert not ours(imports(module)) & COMMANDS, f"{module} imports a command module"


def test_one_module_writes_to_the_disk() -> None:
    writers = {"os.replace", "os.rename", "os.unlink", "write_text", "write_bytes", "rmtree"}
    for module in COMMANDS | STAGES - {"_apply", "_cache", "_format", "_merge"}:
        text = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
        used = {w for w in writers if f"{w}(" in text or f".{w}(" in text}
        # _init stages a pyproject.toml in a temporary directory for ruff; nothing else writes.
        if module == "_init":
            used -= {"write_text"}
        assert not used, f"{module} writes to the disk ({used}); only _apply may"

"""Wiring a generated module into the application's supervision tree.

`application.py` has a function `children()` returning a list literal of child specs.
Wiring adds the module's import after the last top-level import and appends its child
spec to that list. The places are found with `ast`, and only those lines are inserted:
every other byte of the file — the user's formatting, comments, order — stays as it was.
(libcst would do the same at an import cost of about 150 ms per run, more than the whole
budget of `otpgen new`.) Wiring twice adds nothing twice; a file restructured so the list
cannot be found is left untouched and the caller prints the lines to add by hand.
"""

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Wiring:
    """What to add for one module: its imports and its child spec expression."""

    imports: tuple[str, ...]
    child: str


class NotWireable(Exception):
    """The children list could not be found; the message says what was looked for."""


def _children_list(tree: ast.Module) -> ast.List:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "children":
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
            if len(returns) == 1 and isinstance(returns[0].value, ast.List):
                return returns[0].value
            raise NotWireable("children() does not end in `return [...]`")
    raise NotWireable("no function children() at the top level")


def _docstring(tree: ast.Module) -> ast.stmt | None:
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return first
    return None


def _names(node: ast.Import | ast.ImportFrom) -> set[tuple[str | None, str, str | None]]:
    module = node.module if isinstance(node, ast.ImportFrom) else None
    return {(module, alias.name, alias.asname) for alias in node.names}


def _imported(line: str, tops: list[ast.Import | ast.ImportFrom]) -> bool:
    """Whether every name `line` imports is imported already (in any import statement)."""
    wanted = ast.parse(line).body[0]
    assert isinstance(wanted, ast.Import | ast.ImportFrom)
    have = set().union(*(_names(node) for node in tops)) if tops else set()
    return _names(wanted) <= have


def _same(expression: str, node: ast.expr) -> bool:
    return ast.dump(ast.parse(expression, mode="eval").body) == ast.dump(node)


def wire(text: str, wiring: Wiring) -> str:
    """`text` (application.py) with the module wired in; unchanged if it already is."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise NotWireable(f"it does not parse ({exc.msg}, line {exc.lineno})") from None
    children = _children_list(tree)
    lines = text.splitlines(keepends=True)
    tops = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    imports = [line for line in wiring.imports if not _imported(line, tops)]
    wired = any(_same(wiring.child, element) for element in children.elts)

    if not wired:
        _append(lines, children, wiring.child)
    if imports:
        anchor = tops[-1] if tops else _docstring(tree)
        at = (anchor.end_lineno or anchor.lineno) if anchor else 0
        lines[at:at] = [f"{line}\n" for line in imports]
    return "".join(lines)


def _end(node: ast.expr) -> tuple[int, int]:
    """Where `node` ends: (0-based line, column just past it)."""
    return (node.end_lineno or node.lineno) - 1, node.end_col_offset or node.col_offset


def _append(lines: list[str], children: ast.List, child: str) -> None:
    """Add `child` as the last element of the list literal, in the list's own layout."""
    end, past = _end(children)
    bracket = past - 1  # the column of the closing `]`
    if children.lineno - 1 == end:  # `[]` or `[a, b]`: open it up
        row = lines[end]
        indent = " " * (len(row) - len(row.lstrip()))
        body = row[children.col_offset + 1 : bracket]
        items = [item.strip() for item in body.split(",") if item.strip()] + [child]
        inner = "".join(f"{indent}    {item},\n" for item in items)
        lines[end] = f"{row[: children.col_offset]}[\n{inner}{indent}]{row[bracket + 1 :]}"
        return
    opening = lines[children.lineno - 1]
    closing_indent = " " * (len(opening) - len(opening.lstrip()))
    item_indent = closing_indent + "    "
    if children.elts:
        last = children.elts[-1]
        last_line, last_past = _end(last)
        if last.lineno != children.lineno:
            item_indent = " " * last.col_offset
        row = lines[last_line]
        if not row[last_past:].lstrip().startswith(","):  # `x` -> `x,`
            lines[last_line] = f"{row[:last_past]},{row[last_past:]}"
            if last_line == end:
                bracket += 1
    row = lines[end]
    before, after = row[:bracket], row[bracket:]
    if before.strip():  # the last element shares its line with `]`
        lines[end] = f"{before.rstrip()}\n{item_indent}{child},\n{closing_indent}{after}"
    else:
        lines.insert(end, f"{item_indent}{child},\n")


def instructions(wiring: Wiring) -> str:
    """The lines a user adds by hand when the list cannot be found."""
    imports = "".join(f"    {line}\n" for line in wiring.imports)
    return (
        f"add to application.py:\n{imports}and to the list children() returns:\n"
        f"    {wiring.child},\n"
    )

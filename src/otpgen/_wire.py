"""Wiring a generated module into the application's supervision tree.

`application.py` has a function `children()` returning a list literal of child specs.
Wiring adds the module's import to the package's own (first-party) imports and appends its
child spec to that list. A module that sets up the process rather than running in the tree
(tracing hooks) has a setup statement instead, inserted first in `main()`, before the tree
starts. The places are found with `ast`, and only those lines are inserted:
every other byte of the file — the user's formatting, comments, order — stays as it was, and
nothing formats the file afterwards. So the inserted lines are written the way ruff would
write them: a file that passed `ruff check` (isort's `I001` included) and `ruff format
--check` before still passes after, under ruff's defaults as under a service's settings.

Two kinds of line may change rather than only gain neighbours, because ruff leaves no other
choice: a one-line list (`return []`, `return [a, b]`) is opened up, one element a line,
and a one-line `from pkg import a`, the file's only one of the module imported from, takes
the new name in (isort keeps one such statement per module; a file with two is not isort's,
and gets a third). After that first wiring, every later one is a pure insertion.

(libcst would do the same at an import cost of about 150 ms per run, more than the whole
budget of `otpgen new`.) Wiring twice adds nothing twice; a file restructured so the list
cannot be found, or where the imported name already means something else, is left untouched
and the caller prints the lines to add by hand.
"""

import ast
import functools
import itertools
import re
from collections.abc import Iterator
from typing import Any

from otpgen._record import frozen

# The widest line wiring writes: ruff's default line length, the narrowest a service may be
# held to (its own configuration says 100). A longer import or child spec is written
# exploded with a trailing comma, which ruff keeps as it is under any line length.
WIDTH = 88


@frozen
class Wiring:
    """What to add for one module: its imports and its child spec expression.

    Each import is one statement importing from the service's own package, e.g.
    `from shop.inventory import Inventory`: the package (`shop`) is the part of its module
    before the first dot. `child` goes into the list children() returns; `setup`, a
    statement such as `tracing.install()`, goes first into main(). Either may be None.
    `last` holds the child specs that stay at the end of the list (a pattern wired with
    `last = true`, such as web): when the list ends with them, the new child goes in
    before them.
    """

    imports: tuple[str, ...]
    child: str | None
    last: tuple[str, ...] = ()
    setup: str | None = None


class NotWireable(Exception):
    """The children list could not be found, or the import's name is taken; the message
    says what was looked for."""


BOM = "\ufeff"


def wire(text: str, wiring: Wiring) -> str:
    """`text` (application.py) with the module wired in; unchanged if it already is.

    A UTF-8 byte order mark, which Python reads past but `ast` refuses, is set aside while
    the lines are placed and kept at the start of the result.
    """
    if text.startswith(BOM):
        return BOM + wire(text[len(BOM) :], wiring)
    tree = _parse(text)  # refuse before changing anything
    if wiring.child is not None:
        _children_list(tree)
    if wiring.setup is not None:
        _setup_place(tree, wiring.setup)
    for line in wiring.imports:
        for wanted in _wanted(line):
            text = _add_import(text, wanted)
    if wiring.setup is not None:
        text = _add_setup(text, wiring.setup)
    if wiring.child is not None:
        text = _add_child(text, wiring.child, wiring.last)
    return text


def instructions(wiring: Wiring) -> str:
    """The lines a user adds by hand when the list cannot be found."""
    imports = "".join(f"    {line}\n" for line in wiring.imports)
    steps = [f"add to application.py:\n{imports}"]
    if wiring.setup is not None:
        steps.append(f"first in main(), before the tree starts:\n    {wiring.setup}\n")
    if wiring.child is not None:
        steps.append(f"to the list children() returns:\n    {wiring.child},\n")
    return "and ".join(steps)


# Text: lines as ast numbers them (only "\n" ends a line here), columns in characters.


def _parse(text: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        raise NotWireable(f"it does not parse ({exc.msg}, line {exc.lineno})") from None


def _lines(text: str) -> list[str]:
    """`text` split after each "\\n" (unlike `splitlines`, which also splits at \\f, \\x1c…)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _column(line: str, offset: int) -> int:
    """The character column of `ast`'s UTF-8 byte `offset` into `line`."""
    return len(line.encode()[:offset].decode(errors="replace"))


Located = ast.expr | ast.stmt | ast.alias | ast.keyword


def _start(lines: list[str], node: Located) -> tuple[int, int]:
    """Where `node` starts: (0-based line, character column)."""
    row = node.lineno - 1
    return row, _column(lines[row], node.col_offset)


def _end(lines: list[str], node: Located) -> tuple[int, int]:
    """Where `node` ends: (0-based line, character column just past it)."""
    row = (node.end_lineno or node.lineno) - 1
    return row, _column(lines[row], node.end_col_offset or node.col_offset)


def _source(lines: list[str], node: ast.expr | ast.keyword) -> str:
    (first, start), (last, past) = _start(lines, node), _end(lines, node)
    if first == last:
        return lines[first][start:past]
    return "".join([lines[first][start:], *lines[first + 1 : last], lines[last][:past]])


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _blank(line: str) -> bool:
    return not line.strip()


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


# The child spec: appended to the list literal children() returns.


def _children_list(tree: ast.Module) -> ast.List:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "children":
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
            if len(returns) == 1 and isinstance(returns[0].value, ast.List):
                return returns[0].value
            raise NotWireable("children() does not end in `return [...]`")
    raise NotWireable("no function children() at the top level")


def _expression(source: str) -> ast.expr:
    return ast.parse(source.strip(), mode="eval").body


def _same(expression: str, node: ast.expr) -> bool:
    return ast.dump(_expression(expression)) == ast.dump(node)


def _item(child: str, indent: str, newline: str) -> list[str]:
    """`child` as a list element at `indent`: one line, or exploded when it is too wide."""
    child = child.strip()
    if len(indent) + len(child) + 1 <= WIDTH:
        return [f"{indent}{child},{newline}"]
    call = ast.parse(child, mode="eval").body
    if not isinstance(call, ast.Call) or not (call.args or call.keywords):
        return [f"{indent}{child},{newline}"]  # nothing to break: ruff leaves it long too
    lines = _lines(child)
    arguments: list[ast.expr | ast.keyword] = [*call.args, *call.keywords]
    arguments.sort(key=lambda n: (n.lineno, n.col_offset))
    return [
        f"{indent}{_source(lines, call.func)}({newline}",
        *(f"{indent}    {_source(lines, argument)},{newline}" for argument in arguments),
        f"{indent}),{newline}",
    ]


def _pinned(elements: list[ast.expr], last: tuple[str, ...]) -> int:
    """The index of the first of the trailing elements that are among `last` (the
    children kept at the end); len(elements) when the list does not end with one."""
    index = len(elements)
    while index and any(_same(pinned, elements[index - 1]) for pinned in last):
        index -= 1
    return index


def _add_child(text: str, child: str, kept_last: tuple[str, ...] = ()) -> str:
    """`text` with `child` appended to the children list, in the list's own layout:
    before the trailing elements that are in `kept_last`, if any, so those stay last."""
    lines = _lines(text)
    children = _children_list(_parse(text))
    if any(_same(child, element) for element in children.elts):
        return text
    newline = _newline(text)
    (first, opening), (end, past) = _start(lines, children), _end(lines, children)
    bracket = past - 1  # the column of the closing `]`
    at = _pinned(children.elts, tuple(p for p in kept_last if not _same(p, _expression(child))))
    if first == end:  # `[]` or `[a, b]`: open it up, one element a line
        row = lines[end]
        indent = _indent(row)
        items = [_source(lines, element) for element in children.elts]
        items.insert(at, child)
        inner = [line for item in items for line in _item(item, indent + "    ", newline)]
        lines[end : end + 1] = [
            f"{row[:opening]}[{newline}",
            *inner,
            f"{indent}]{row[bracket + 1 :]}",
        ]
        return "".join(lines)
    if at < len(children.elts):
        above, column = _start(lines, children.elts[at])
        if not lines[above][:column].strip():
            # the first kept-last element starts its own line: the new one goes above it
            lines[above:above] = _item(child, lines[above][:column], newline)
            return "".join(lines)
    item_indent = _indent(lines[first]) + "    "
    if children.elts:
        last = children.elts[-1]
        last_row, last_past = _end(lines, last)
        if last.lineno != children.lineno:
            item_indent = " " * _start(lines, last)[1]
        row = lines[last_row]
        if not row[last_past:].lstrip().startswith(","):  # `x` -> `x,`
            lines[last_row] = f"{row[:last_past]},{row[last_past:]}"
            if last_row == end:
                bracket += 1
    row = lines[end]
    before, after = row[:bracket], row[bracket:]
    if before.strip():  # the last element shares its line with `]`
        closing = _indent(lines[first])
        lines[end : end + 1] = [
            f"{before.rstrip()}{newline}",
            *_item(child, item_indent, newline),
            f"{closing}{after}",
        ]
    else:
        lines[end:end] = _item(child, item_indent, newline)
    return "".join(lines)


# The setup statement: first in main(), after its docstring, so it runs before the tree
# starts (`otp.run(children(), ...)` is main's last statement).


def _main_function(tree: ast.Module) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return node
    raise NotWireable("no function main() at the top level")


def _docstring(function: ast.FunctionDef) -> ast.stmt | None:
    first = function.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def _setup_place(tree: ast.Module, setup: str) -> tuple[ast.FunctionDef, ast.stmt | None]:
    """main(), and the statement `setup` goes after (its docstring, or None: first); an
    error when main() is written so a statement cannot go on a line of its own."""
    main = _main_function(tree)
    docstring = _docstring(main)
    code = [node for node in main.body if node is not docstring]
    if not code:
        raise NotWireable("main() has no statement to put the setup before")
    if any(node.lineno == main.lineno for node in main.body):
        raise NotWireable("main()'s body shares its line with `def`")
    if docstring is not None and code[0].lineno == docstring.end_lineno:
        raise NotWireable("main()'s docstring shares its line with code")
    return main, docstring


def _setup_statement(setup: str) -> ast.stmt:
    body = ast.parse(setup.strip()).body
    if len(body) != 1:
        raise NotWireable(f"expected one statement to add to main(), got: {setup!r}")
    return body[0]


def _is_setup(node: ast.stmt, setup: str) -> bool:
    return ast.dump(node) == ast.dump(_setup_statement(setup))


def _add_setup(text: str, setup: str) -> str:
    """`text` with `setup` the first statement of main() after its docstring."""
    tree = _parse(text)
    main, docstring = _setup_place(tree, setup)
    if any(_is_setup(node, setup) for node in main.body):
        return text
    lines = _lines(text)
    code = next(node for node in main.body if node is not docstring)
    indent = " " * _start(lines, code)[1]
    # after the docstring, or right above the first statement and the comments atop it
    if docstring is not None:
        at = docstring.end_lineno or docstring.lineno
    else:
        at = code.lineno - 1
        while at > main.lineno and _comment(lines[at - 1]):
            at -= 1
    lines[at:at] = [f"{indent}{setup.strip()}{_newline(text)}"]
    return "".join(lines)


def _remove_setup(text: str, setup: str) -> tuple[str, str | None]:
    """`text` without the setup statement in main(), or a note when it is not there."""
    try:
        main = _main_function(_parse(text))
    except NotWireable as exc:
        return text, f"{exc}: no {setup.strip()} to take out"
    found = [node for node in main.body if _is_setup(node, setup)]
    if not found:
        return text, f"no {setup.strip()} was found in main()"
    lines = _lines(text)
    for node in reversed(found):
        (first, start), (last, past) = _start(lines, node), _end(lines, node)
        tail = lines[last][past:].strip()
        alone = not lines[first][:start].strip() and (not tail or tail.startswith("#"))
        if not alone or node is main.body[-1]:  # (main() would be left without a body)
            return text, f"remove {setup.strip()} from main() by hand"
        del lines[first : last + 1]
    return "".join(lines), None


# The import: into the package's section of the top import block, where isort puts it.

Import = ast.Import | ast.ImportFrom


@frozen
class _Name:
    """One name an import binds: `from module import name as asname` or `import module`."""

    module: str  # absolute
    name: str | None  # None for `import module [as asname]`
    asname: str | None

    @property
    def bound(self) -> str:
        if self.asname:
            return self.asname
        return self.name if self.name is not None else self.module.split(".")[0]

    @property
    def meaning(self) -> str:
        """What the name stands for; `import a.b` and `import a.c` both bind `a`, and
        each means what it loads."""
        return self.module if self.name is None else f"{self.module}.{self.name}"

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


def _wanted(line: str) -> Iterator[_Name]:
    """The names an import line of a Wiring binds, one by one."""
    try:
        body = ast.parse(line.strip()).body
    except SyntaxError:
        body = []
    if len(body) != 1 or not isinstance(body[0], Import) or _level(body[0]):
        raise NotWireable(f"expected one absolute import statement to add, got: {line!r}")
    node = body[0]
    for alias in node.names:
        if isinstance(node, ast.Import):
            yield _Name(alias.name, None, alias.asname)
        else:
            yield _Name(node.module or "", alias.name, alias.asname)


def _level(node: Import) -> int:
    return node.level if isinstance(node, ast.ImportFrom) else 0


def _names(node: Import, package: str) -> Iterator[_Name]:
    """What `node` binds, relative modules resolved against `package` (application.py's)."""
    for alias in node.names:
        if isinstance(node, ast.Import):
            yield _Name(alias.name, None, alias.asname)
            continue
        module = node.module or ""
        if node.level == 1:
            module = f"{package}.{module}" if module else package
        elif node.level > 1:
            module = "." * node.level + module  # outside the package: never the same
        yield _Name(module, alias.name, alias.asname)


_DIGITS = re.compile(r"[0-9]+")


def _natural(a: str, b: str) -> int:
    """Compare like ruff's isort (the `natord` crate): runs of digits compare as numbers."""
    i = j = 0
    while i < len(a) and j < len(b):
        digits_a, digits_b = _DIGITS.match(a, i), _DIGITS.match(b, j)
        if digits_a and digits_b:
            x, y = digits_a.group(), digits_b.group()
            if x[0] == "0" or y[0] == "0":  # "fractional": digit by digit
                order = _compare(x, y)
            else:  # the longer number is the larger
                order = _compare((len(x), x), (len(y), y))
            if order:
                return order
            i, j = digits_a.end(), digits_b.end()
        elif a[i] != b[j]:
            return _compare(a[i], b[j])
        else:
            i, j = i + 1, j + 1
    return _compare(i < len(a), j < len(b))


def _compare(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


@functools.total_ordering
class _Natural:
    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Natural) and _natural(self.text, other.text) == 0

    def __lt__(self, other: "_Natural") -> bool:
        return _natural(self.text, other.text) < 0


def _member_key(name: str, asname: str | None = None) -> tuple[object, ...]:
    """isort's order of names in `from module import …` (ruff's defaults: order-by-type)."""
    if len(name) > 1 and name.upper() == name and name.lower() != name:
        kind = 0  # CONSTANT
    elif name[:1].isupper():
        kind = 1  # Class
    else:
        kind = 2  # variable
    return (name != "*", kind, _Natural(name.lower()), _Natural(name), _Natural(asname or ""))


def _statement_key(node: Import) -> tuple[object, ...]:
    """isort's order of statements within a section: `import x` first, then `from x import`,
    each by module, case-insensitively (ruff's defaults)."""
    if isinstance(node, ast.Import):
        alias = node.names[0]
        return (0, 0, _Natural(alias.name.lower()), _Natural(alias.name), (), alias.asname or "")
    first = min((_member_key(a.name, a.asname) for a in node.names), default=())
    module = node.module or ""
    # relative imports sort furthest first; they live in their own section anyway
    return (1, -node.level, _Natural(module.lower()), _Natural(module), first, "")


def _statement(wanted: _Name) -> ast.Import | ast.ImportFrom:
    alias = ast.alias(wanted.name or wanted.module, wanted.asname)
    if wanted.name is None:
        return ast.Import([alias])
    return ast.ImportFrom(wanted.module, [alias], 0)


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname else name


def _written(wanted: _Name, newline: str) -> list[str]:
    """The new statement, one line or (too wide) exploded as ruff writes it."""
    if wanted.name is None:
        return [f"import {_alias(wanted.module, wanted.asname)}{newline}"]
    one = f"from {wanted.module} import {_alias(wanted.name, wanted.asname)}"
    if len(one) <= WIDTH:
        return [one + newline]
    return [
        f"from {wanted.module} import ({newline}",
        f"    {_alias(wanted.name, wanted.asname)},{newline}",
        f"){newline}",
    ]


def _blocks(tree: ast.Module) -> list[list[Import]]:
    """The runs of consecutive top-level import statements (isort's import blocks)."""
    blocks: list[list[Import]] = []
    previous = None
    for node in tree.body:
        if isinstance(node, Import):
            if isinstance(previous, Import):
                blocks[-1].append(node)
            else:
                blocks.append([node])
        previous = node
    return blocks


def _first_party(node: Import, package: str) -> bool:
    return not _level(node) and any(n.package == package for n in _names(node, package))


def _atop(lines: list[str], block: list[Import], node: Import) -> int:
    """The first of the comment lines right above `node`, which isort keeps with it (those
    above a block's first statement stay where they are): `node`'s line if none."""
    row = node.lineno - 1
    while node is not block[0] and row > 0 and _comment(lines[row - 1]):
        row -= 1
    return row


def _add_import(text: str, wanted: _Name) -> str:
    tree = _parse(text)
    lines = _lines(text)
    newline = _newline(text)
    package = wanted.package
    tops = [node for node in tree.body if isinstance(node, Import)]
    for node in tops:
        for name in _names(node, package):
            if name.bound != wanted.bound:
                continue
            if name.meaning == wanted.meaning:
                return text
            if wanted.name is None is name.name and not (wanted.asname or name.asname):
                continue  # `import a.c` beside `import a.b`
            raise NotWireable(
                f"the name {wanted.bound} is imported already, from {name.module} "
                f"(line {node.lineno})"
            )
    new = _statement(wanted)
    blocks = _blocks(tree)
    if not blocks:
        return _first_import(tree, lines, _written(wanted, newline), newline)
    block = next((b for b in blocks if any(_first_party(n, package) for n in b)), blocks[0])
    # isort keeps one `from m import a, b` per module; where a file has two, it is not
    # isort's and a statement of its own changes no line of it
    same = [node for node in block if _joinable(node, wanted)]
    if len(same) == 1:
        merged = _merge(lines, same[0], wanted, newline)
        if merged is not None:
            return "".join(merged)
    ours = [node for node in block if _first_party(node, package)]
    written = _written(wanted, newline)
    if ours:  # at its sorted place among the package's imports
        key = _statement_key(new)
        earlier = [node for node in ours if _statement_key(node) <= key]
        if earlier:  # right after the one before it (a blank line stays before comments)
            at = earlier[-1].end_lineno or earlier[-1].lineno
        else:  # first of the section; isort separates a statement's comments from it
            following = ours[0]
            at = _atop(lines, block, following)
            if at < following.lineno - 1:
                written = [*written, newline]
        lines[at:at] = written
        return "".join(lines)
    # a section of its own: after stdlib and third-party imports, before relative ones
    absolute = [node for node in block if not _level(node)]
    if absolute:
        at = absolute[-1].end_lineno or absolute[-1].lineno
        lines[at:at] = [newline, *written]
    else:
        at = block[0].lineno - 1
        lines[at:at] = [*written, newline]
    return "".join(lines)


def _joinable(node: Import, wanted: _Name) -> bool:
    """Whether isort would write `wanted` into `node`: `from` the same module, no `as`."""
    return (
        isinstance(node, ast.ImportFrom)
        and not node.level
        and node.module == wanted.module
        and not any(alias.asname or alias.name == "*" for alias in node.names)
        and wanted.name is not None
        and not wanted.asname
    )


def _merge(lines: list[str], node: Import, wanted: _Name, newline: str) -> list[str] | None:
    """`lines` with the name added to `node`, a `from` import of the same module, or None
    when `node` is written in a layout isort would not write."""
    if not isinstance(node, ast.ImportFrom) or wanted.name is None:
        return None
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    lines = list(lines)
    if first == last:  # `from m import a, b  # comment`: written anew, as ruff would
        row = lines[first]
        code_end = _column(row, node.end_col_offset or 0)
        comment = row[code_end:].strip()
        names = sorted([a.name for a in node.names] + [wanted.name], key=_member_key)
        indent = _indent(row)
        one = f"{indent}from {wanted.module} import {', '.join(names)}"
        if comment and len(node.names) == 1:  # a comment about that one name stays with it
            mine = node.names[0].name
            lines[first : first + 1] = [
                f"{indent}from {wanted.module} import ({newline}",
                *(
                    f"{indent}    {n},{'  ' * (n == mine)}{comment * (n == mine)}{newline}"
                    for n in names
                ),
                f"{indent}){newline}",
            ]
        elif len(one) + (len(comment) + 2 if comment else 0) <= WIDTH:
            lines[first] = f"{one}  {comment}{newline}" if comment else one + newline
        else:
            lines[first : first + 1] = [
                f"{indent}from {wanted.module} import ({'  ' + comment if comment else ''}"
                f"{newline}",
                *(f"{indent}    {n},{newline}" for n in names),
                f"{indent}){newline}",
            ]
        return lines
    # exploded: `(`, then one name a line each with its comma, then `)` on its own line
    rows = [alias.lineno - 1 for alias in node.names]
    if len(set(rows)) != len(rows) or rows[0] == first or rows[-1] == last:
        return None
    last_alias = node.names[-1]
    tail = lines[rows[-1]][_end(lines, last_alias)[1] :]
    if not tail.lstrip().startswith(","):
        return None
    key = _member_key(wanted.name, None)
    after = [a for a in node.names if _member_key(a.name, a.asname) < key]
    at = after[-1].lineno if after else first + 1  # after the name before it, or `(`
    indent = " " * _start(lines, node.names[0])[1]
    lines[at:at] = [f"{indent}{wanted.name},{newline}"]
    return lines


def _first_import(tree: ast.Module, lines: list[str], written: list[str], newline: str) -> str:
    """`lines` with the file's first import, after its docstring or leading comments."""
    first = tree.body[0] if tree.body else None
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    if docstring and first is not None:
        at = first.end_lineno or first.lineno
    else:
        at = 0
        while at < len(lines) and _comment(lines[at]):
            at += 1
    following = next((n for n in tree.body if n.lineno > at), None)
    after: list[str] = []
    if following is not None:  # the blank lines ruff wants between imports and code
        spaced = isinstance(following, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        blank = len(list(itertools.takewhile(_blank, lines[at:])))
        after = [newline] * max(0, (2 if spaced else 1) - blank)
    before = [newline] if docstring else []
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += newline
    lines[at:at] = [*before, *written, *after]
    return "".join(lines)


# Unwiring: `otpgen remove` takes out what wiring put in, and nothing else.


def unwire(text: str, wiring: Wiring) -> tuple[str, list[str]]:
    """`text` without the module's child spec and, where nothing else uses them, its
    imports; and what is left for the user to do by hand.

    The child spec is found as wiring wrote it or as the user edited it (a call of the same
    `child_spec`, other arguments); its lines go, and a list left empty closes up to `[]`
    as ruff writes it. A setup statement goes from main() where it stands on lines of its
    own. An import goes only if the file no longer uses the name it binds. A byte order mark
    is kept, as `wire` keeps it.
    """
    if text.startswith(BOM):
        unmarked, notes = unwire(text[len(BOM) :], wiring)
        return BOM + unmarked, notes
    left: list[str] = []
    if wiring.child is not None:
        text = _remove_child(text, wiring.child, left)
    if wiring.setup is not None:
        text, note = _remove_setup(text, wiring.setup)
        left += [note] if note else []
    for line in wiring.imports:
        for name in _wanted(line):
            text, note = _remove_import(text, name)
            if note:
                left.append(note)
    return text, left


def _remove_child(text: str, child: str, left: list[str]) -> str:
    children = _children_list(_parse(text))
    wanted = ast.parse(child.strip(), mode="eval").body
    found = [e for e in children.elts if _same(child, e) or _same_spec(wanted, e)]
    for element in reversed(found):
        text = _remove_element(text, element, children)
        children = _children_list(_parse(text))
    if not found:
        left.append(f"no child spec {child} was found in children()")
    return text


def _same_spec(wanted: ast.expr, element: ast.expr) -> bool:
    """Whether `element` calls what the wired spec calls (`inventory.child_spec(...)`)."""
    return (
        isinstance(wanted, ast.Call)
        and isinstance(element, ast.Call)
        and ast.dump(wanted.func) == ast.dump(element.func)
    )


def _remove_element(text: str, element: ast.expr, children: ast.List) -> str:
    lines = _lines(text)
    (first, start), (last, past) = _start(lines, element), _end(lines, element)
    rest = lines[last][past:]
    tail = rest.lstrip()
    if tail.startswith(","):
        tail = tail[1:].lstrip()
    if lines[first][:start].strip() or (tail.strip() and not tail.startswith("#")):
        raise NotWireable("the child spec shares its line with other code")
    del lines[first : last + 1]
    text = "".join(lines)
    # An empty list left open over several lines is `[]` to ruff: close it up, unless
    # comments are left inside it.
    tree = _parse(text)
    children = _children_list(tree)
    lines = _lines(text)
    (open_row, opening), (close_row, past) = _start(lines, children), _end(lines, children)
    inner = lines[open_row + 1 : close_row]
    if not children.elts and open_row != close_row and all(_blank(row) for row in inner):
        head, end = lines[open_row][:opening], lines[close_row][past:]
        lines[open_row : close_row + 1] = [f"{head}[]{end}"]
    return "".join(lines)


def _remove_import(text: str, wanted: _Name) -> tuple[str, str | None]:
    tree = _parse(text)
    # `inventory.Inventory` is an Attribute around the Name `inventory`: walking finds it.
    used = any(isinstance(n, ast.Name) and n.id == wanted.bound for n in ast.walk(tree))
    statement = f"from {wanted.module} import {wanted.name}" if wanted.name else wanted.module
    if used:
        return text, f"{wanted.bound} is still used in application.py: kept `{statement}`"
    lines = _lines(text)
    for node in tree.body:
        if not isinstance(node, Import):
            continue
        aliases = [
            alias
            for alias, name in zip(node.names, _names(node, wanted.package), strict=True)
            if name.meaning == wanted.meaning and name.bound == wanted.bound
        ]
        if not aliases:
            continue
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        if len(node.names) == 1:
            del lines[first : last + 1]
            if 0 < first < len(lines) and _blank(lines[first - 1]) and _blank(lines[first]):
                del lines[first]  # the statement was a section of its own
            return "".join(lines), None
        alias = aliases[0]
        row = alias.lineno - 1
        if first == last and isinstance(node, ast.ImportFrom) and not node.level:
            kept = [_alias(a.name, a.asname) for a in node.names if a is not alias]
            code_end = _column(lines[row], node.end_col_offset or 0)
            head = f"{_indent(lines[row])}from {node.module} import {', '.join(kept)}"
            lines[row] = head + lines[row][code_end:]
            return "".join(lines), None
        if row not in (first, last) and sum(a.lineno - 1 == row for a in node.names) == 1:
            del lines[row]  # exploded, one name a line
            return "".join(lines), None
        return text, f"remove {wanted.bound} from the import on line {node.lineno} by hand"
    return text, None

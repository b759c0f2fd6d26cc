"""Templates compiled to plain Python, so that rendering one needs no jinja2 at all.

Importing jinja2 and building its environment costs about as much as the rest of an
`otpgen new`, and every `new` renders a name never rendered before, so the render cache
misses. The shipped templates use a small part of jinja: text, `{{ ... }}`, `{% if %}`,
`{% set name = ... %}`, names, `a.b`, a few filters, `~`, comparisons, `and`/`or`/`not`
and inline `if`. The first time a template is seen, jinja2 parses it and this module
translates the parsed template into a Python module that builds the text with nothing
but builtins; the bytecode is cached by the template's text, so later renders load it
(`marshal`) and run it.

The translation never guesses: a template using anything else (a loop, a macro, an
include, a test, another filter) is not translated, and jinja2 renders it. A compiled
render that raises for any reason (an undefined name, a bad value) is not reported
either: jinja2 renders the template again and reports the error in its own words. So a
compiled render either returns exactly what jinja2 returns, or defers to jinja2.
`tests/engine/test_compile.py` renders every pattern with every option value both ways.
"""

import marshal
import os
import sys
from collections.abc import Callable
from types import CodeType
from typing import TYPE_CHECKING, Any

from otpgen import _cache

if TYPE_CHECKING:
    from jinja2 import nodes

OPTIONS: dict[str, Any] = {
    "autoescape": False,
    "keep_trailing_newline": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
}
"""How otpgen's jinja environment reads templates (`_render` builds it with these)."""

VERSION = "1"
"""The translation's version: change it whenever a template would translate differently."""

_NOT_COMPILED = b""  # cached for a template jinja2 must render


def render(source: str, context: dict[str, object]) -> str | None:
    """`source` rendered with `context`, or None when jinja2 must render it."""
    code = _code(source)
    if code is None:
        return None
    namespace: dict[str, object] = {"v": dict(context), **_RUNTIME}
    try:
        exec(code, namespace)  # a module built by `translate` from a template
    except Exception:  # jinja2 renders it again and names the error
        return None
    out = namespace.get("_out")
    return out if isinstance(out, str) else None


def _code(source: str) -> CodeType | None:
    """The compiled form of `source` (from the cache, or translated now), None if none.

    Without a cache there is nothing to gain: jinja2 would be imported to translate.
    """
    if _cache.cache_dir() is None:
        return None
    if source in _loaded:  # `update` renders one template for each of many names
        return _loaded[source]
    _loaded[source] = code = _load(source)
    return code


_loaded: dict[str, CodeType | None] = {}


def _load(source: str) -> CodeType | None:
    key = _cache.key("compiled", VERSION, sys.version, repr(OPTIONS), _jinja_stamp(), source)
    data = _cache.read_binary("compiled", key)
    if data is None:
        python = translate(source)
        data = _NOT_COMPILED
        if python is not None:
            data = marshal.dumps(compile(python, "<otpgen template>", "exec"))
        _cache.write_binary("compiled", key, data)
    if data == _NOT_COMPILED:
        return None
    try:
        code = marshal.loads(data)
    except (EOFError, ValueError, TypeError):  # a damaged cache entry
        return None
    return code if isinstance(code, CodeType) else None


def _jinja_stamp() -> str:
    """The installed jinja2's `__init__.py` (size, mtime): a new jinja2 may lex differently."""
    for entry in sys.path:
        try:
            stat = os.stat(os.path.join(entry or ".", "jinja2", "__init__.py"))
        except OSError:
            continue
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    return "?"


# What the compiled modules call: jinja2's own semantics, restated.


class _Undefined(Exception):
    """A name or attribute jinja2 would make an Undefined of: jinja2 takes over."""


def _getattr(obj: object, attribute: str) -> object:
    # jinja2's Environment.getattr: the attribute, else the item, else undefined.
    try:
        return getattr(obj, attribute)
    except AttributeError:
        pass
    try:
        return obj[attribute]  # type: ignore[index]
    except (TypeError, LookupError, AttributeError):
        raise _Undefined(attribute) from None


def _float(value: object) -> float:
    # jinja2's `float` filter: 0.0 for what float() refuses.
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _upper(value: object) -> str:
    # jinja2's `upper` filter.
    return (value if isinstance(value, str) else str(value)).upper()


def _lower(value: object) -> str:
    # jinja2's `lower` filter.
    return (value if isinstance(value, str) else str(value)).lower()


_RUNTIME: dict[str, object] = {"_getattr": _getattr, "_float": _float}
_FILTERS: dict[str, Callable[[object], object]] = {
    "float": _float,
    "upper": _upper,
    "lower": _lower,
}
_RUNTIME |= {f"_filter_{name}": function for name, function in _FILTERS.items()}


# The translation (jinja2 is imported here only: on a cache miss).


class _Unsupported(Exception):
    """A construct the translation leaves to jinja2."""


_COMPARE = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}
_BINARY = {"Add": "+", "Sub": "-", "Mul": "*"}
_CONSTANTS = (str, int, float, bool, type(None))


def translate(source: str) -> str | None:
    """A Python module that renders `source` into `_out` from the context `v`, or None if
    the template uses something the translation leaves to jinja2."""
    import jinja2

    environment = jinja2.Environment(**OPTIONS)
    try:
        template = environment.parse(source)
    except jinja2.TemplateSyntaxError:
        return None  # jinja2 reports it
    lines = ["_o = []", "_w = _o.append"]
    try:
        _statements(template.body, lines, 0)
    except Exception:  # _Unsupported, or a node not shaped as this jinja2 version's
        return None
    lines.append("_out = ''.join(_o)")
    return "\n".join(lines) + "\n"


def _statements(body: "list[nodes.Node]", lines: list[str], depth: int) -> None:
    from jinja2 import nodes

    pad = "    " * depth
    if not body:
        lines.append(f"{pad}pass")
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                lines.append(f"{pad}_w({_output(child)})")
        elif isinstance(node, nodes.If):
            lines.append(f"{pad}if {_expression(node.test)}:")
            _statements(node.body, lines, depth + 1)
            for branch in node.elif_:
                lines.append(f"{pad}elif {_expression(branch.test)}:")
                _statements(branch.body, lines, depth + 1)
            if node.else_:
                lines.append(f"{pad}else:")
                _statements(node.else_, lines, depth + 1)
        elif isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            # `{% set %}` at the top level or in an `if`: jinja2 gives neither its own scope.
            lines.append(f"{pad}v[{node.target.name!r}] = {_expression(node.node)}")
        else:
            raise _Unsupported(type(node).__name__)


def _output(node: "nodes.Node") -> str:
    from jinja2 import nodes

    if isinstance(node, nodes.TemplateData):
        return repr(node.data)
    if isinstance(node, nodes.CondExpr) and node.expr2 is None:
        # `{{ a if test }}` prints nothing when the test fails (jinja2 prints its plain
        # Undefined, even under StrictUndefined).
        return f"(str({_expression(node.expr1)}) if {_expression(node.test)} else '')"
    return f"str({_expression(node)})"


def _expression(node: "nodes.Node") -> str:
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        if not isinstance(node.value, _CONSTANTS):
            raise _Unsupported("constant")
        return repr(node.value)
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return f"v[{node.name!r}]"  # a KeyError (undefined) hands the template to jinja2
    if isinstance(node, nodes.Getattr) and node.ctx == "load":
        return f"_getattr({_expression(node.node)}, {node.attr!r})"
    if isinstance(node, nodes.Filter):
        plain = not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
        if node.node is None or not plain or node.name not in _FILTERS:
            raise _Unsupported(f"filter {node.name}")
        return f"_filter_{node.name}({_expression(node.node)})"
    if isinstance(node, nodes.Concat):
        parts = ", ".join(_expression(n) for n in node.nodes)
        return f"''.join(map(str, ({parts},)))"
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return (
            f"({_expression(node.expr1)} if {_expression(node.test)} "
            f"else {_expression(node.expr2)})"
        )
    if isinstance(node, nodes.Compare):
        text = _expression(node.expr)
        for operand in node.ops:
            if operand.op not in _COMPARE:
                raise _Unsupported(f"operator {operand.op}")
            text += f" {_COMPARE[operand.op]} {_expression(operand.expr)}"
        return f"({text})"
    if isinstance(node, nodes.Not):
        return f"(not {_expression(node.node)})"
    if isinstance(node, nodes.And | nodes.Or):
        word = "and" if isinstance(node, nodes.And) else "or"
        return f"({_expression(node.left)} {word} {_expression(node.right)})"
    if type(node).__name__ in _BINARY and isinstance(node, nodes.BinExpr):
        operator = _BINARY[type(node).__name__]
        return f"({_expression(node.left)} {operator} {_expression(node.right)})"
    if isinstance(node, nodes.List) or (isinstance(node, nodes.Tuple) and node.ctx == "load"):
        items = "".join(f"{_expression(item)}, " for item in node.items)
        return f"({items})" if isinstance(node, nodes.Tuple) else f"[{items}]"
    raise _Unsupported(type(node).__name__)

"""Validating the NAME a user gives a generated module."""

import builtins
import keyword
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from otpgen import _cache
from otpgen._errors import OtpgenError

if TYPE_CHECKING:
    import ast

MAX_LENGTH = 30
_MODULE = re.compile(r"[a-z_][a-z0-9_]*")
_RESERVED = {"otp", "tests", "test", "conftest", "application", "main", "__main__", "__init__"}
# Module names whose class name would shadow a name the generated code imports.
# (Every capitalised name the shipped templates import; tests/engine/test_names.py keeps it so.)
_SHADOWING = {
    "self",
    "final",
    "any",
    "mapping",
    "iterable",
    "hashable",
    "callable",
    "awaitable",
    "generic",
    "protocol",
    "type_var",
    "type_var_tuple",
    "class_var",
    "async_iterable",
    "param_spec",
    "pub_sub",
    "async_iterator",
    "iterator",
    "traceback_type",
    # redis-py, imported by the redis backends
    "redis",
    "redis_error",
    "blocking_connection_pool",
    # OpenTelemetry, imported by the tracing pattern and its test
    "span_kind",
    "status_code",
    "readable_span",
    "tracer_provider",
    "simple_span_processor",
    "in_memory_span_exporter",
    # starlette and prometheus-client, imported by the web pattern
    "starlette",
    "request",
    "response",
    "h_t_m_l_response",
    "j_s_o_n_response",
    "route",
    "base_route",
    "counter_metric_family",
    "gauge_metric_family",
    "histogram_metric_family",
    "metric",
    "collector",
}


def module_name(raw: str) -> str:
    """Turn NAME into a module name (`chat-room` -> `chat_room`), or say why it cannot be one."""
    if not raw:
        raise OtpgenError("the name is empty; give a module name such as `chat_room`")
    if "/" in raw or "\\" in raw or ".." in raw or raw.startswith("."):
        raise OtpgenError(
            f"expected a module name, got a path: {raw!r}; "
            "give a plain name such as `chat_room` (use --package to choose where it goes)"
        )
    if not raw.isascii():
        raise OtpgenError(f"the name must be ASCII, got: {raw!r}")
    name = raw.replace("-", "_")
    if len(name) > MAX_LENGTH:
        raise OtpgenError(
            f"the name is {len(name)} characters long; keep it to {MAX_LENGTH} so the generated "
            "lines stay within 88 columns (ruff's default)"
        )
    if name[0].isdigit():
        raise OtpgenError(f"a module name cannot start with a digit, got: {raw!r}")
    if not _MODULE.fullmatch(name):
        raise OtpgenError(
            f"expected a lowercase module name (letters, digits, _ or -), got: {raw!r}"
        )
    _check_class(name)
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise OtpgenError(f"{name!r} is a Python keyword; choose another name")
    if hasattr(builtins, name):
        raise OtpgenError(f"{name!r} shadows a Python builtin; choose another name")
    if name in sys.stdlib_module_names:
        raise OtpgenError(f"{name!r} shadows the standard library module; choose another name")
    if name in _SHADOWING:
        raise OtpgenError(
            f"{name!r} would name its class {class_name(name)}, which the generated code "
            "imports (from typing, collections.abc, types, redis, starlette, prometheus-client "
            "or opentelemetry); choose another name"
        )
    if name in _RESERVED or name.startswith("test_"):
        raise OtpgenError(f"{name!r} is reserved (kernel, tests or app files); choose another name")
    return name


def class_name(module: str) -> str:
    """`chat_room` -> `ChatRoom`."""
    return "".join(part[:1].upper() + part[1:] for part in module.split("_") if part)


def _check_class(name: str) -> None:
    """Refuse a module name whose class name could not be written or would shadow a builtin.

    Underscores only separate words, so `__` has no class name and `_0` would be class `0`.
    Repeated or trailing underscores are allowed (`a__b` is class `AB`); `class_clash`
    refuses them when another module in the package already has that class name.
    """
    cls = class_name(name)
    if not cls:
        raise OtpgenError(
            f"{name!r} has no letters to make its class name from; give a module name such "
            "as `chat_room`"
        )
    if not cls.isidentifier():
        raise OtpgenError(
            f"{name!r} would name its class {cls}, which is not a Python identifier (it "
            "starts with a digit); choose another name"
        )
    if keyword.iskeyword(cls):
        raise OtpgenError(
            f"{name!r} would name its class {cls}, a Python keyword; choose another name"
        )
    if hasattr(builtins, cls):
        raise OtpgenError(
            f"{name!r} would name its class {cls}, which shadows a Python builtin; choose "
            "another name"
        )


def class_clash(name: str, taken: Iterable[str]) -> str | None:
    """A module in `taken` (generated earlier in the same package) whose class is `name`'s.

    `foo_` and `foo`, or `foo__bar` and `foo_bar`, would both define the class `Foo` /
    `FooBar`; `name` itself in `taken` is the same module generated again, not a clash.
    """
    cls = class_name(name)
    return next((m for m in sorted(set(taken)) if m != name and class_name(m) == cls), None)


def clash_message(name: str, other: str) -> str:
    """The error for `class_clash(name, ...) == other`."""
    return (
        f"{name} would be class {class_name(name)}, which {other} already defines; "
        "choose another name"
    )


def check_render(name: str, tree: Mapping[PurePosixPath, str]) -> None:
    """Refuse `name` if its render (module and test) binds a name it makes twice.

    A pattern's module and test define helpers of their own (a `FakeClock`, a `K` type
    variable, a `Boom` exception); a NAME whose class or functions are spelled the same
    would be redefined there (ruff F811, mypy no-redef, a failing test). The render is
    parsed rather than the helpers listed, so a template's future helpers are covered too.
    Parsing costs a few tens of milliseconds: the verdict is cached by the render's text.
    """
    texts = sorted((path.as_posix(), text) for path, text in tree.items())
    key = _cache.key("redefined v1", name, *(part for item in texts for part in item))
    cached = _cache.read("names", key)
    if cached is None:
        found = _redefined(name, texts)
        cached = "\t".join(found) if found else ""
        _cache.write("names", key, cached)
    if cached:
        twice, path = cached.split("\t", 1)
        raise OtpgenError(
            f"{name!r} would define {twice} twice in {path}, whose generated code has a "
            f"{twice} of its own; choose another name"
        )


def _redefined(name: str, texts: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first name `name` makes that a file of the render binds twice at module level,
    and that file; None if there is none (or a file does not parse: ruff says why later)."""
    import ast

    cls = class_name(name)
    word = re.compile(rf"(?:^|_){re.escape(name.strip('_'))}(?:_|$)", re.IGNORECASE)
    for path, text in texts:
        try:
            body = ast.parse(text).body
        except (SyntaxError, ValueError):
            continue
        seen: set[str] = set()
        for bound in (b for statement in body for b in _bindings(statement)):
            if bound in seen and (cls in bound or word.search(bound)):
                return bound, path
            seen.add(bound)
    return None


def _bindings(statement: "ast.stmt") -> list[str]:
    """The module-level names a top-level statement binds (into `if` and `try` blocks)."""
    import ast

    if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return [statement.name]
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return [a.asname or a.name.split(".")[0] for a in statement.names if a.name != "*"]
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        return [n for t in targets for n in _targets(t)]
    if isinstance(statement, ast.If | ast.Try):
        # Alternatives (`if`/`else`, `try`/`except`) may each bind a name once: once here.
        blocks = [statement.body, statement.orelse]
        if isinstance(statement, ast.Try):
            blocks += [*(h.body for h in statement.handlers), statement.finalbody]
        found: list[str] = []
        for block in blocks:
            inner = [b for s in block for b in _bindings(s)]
            found += [b for b in inner if b not in found] if found else inner
        return found
    return []


def _targets(target: "ast.expr") -> list[str]:
    """The names an assignment target binds (`a`, `a, *b`; not `a.b` or `a[0]`)."""
    import ast

    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for element in target.elts for n in _targets(element)]
    if isinstance(target, ast.Starred):
        return _targets(target.value)
    return []

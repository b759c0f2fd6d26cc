"""Adding a generated module's third-party requirements to a project's pyproject.toml.

A pattern rendered with a server backend imports a client library (`redis`, say), so
`otpgen new` adds that requirement to `[project] dependencies`. Like wiring, this only
inserts: each requirement goes in as one new element of the existing array, every other
byte of the file stays as it was, and a requirement on a distribution the project already
names (in any version or with any extras) is left to the user's choice. The result is
parsed back and compared with the list it must hold; a file where the array cannot be
found, or where the insertion would not give exactly that list, is left untouched and the
caller prints the line to add by hand.

What a module's test imports (an SDK whose in-memory exporter the test reads) goes the
same way into an extra, `test = [...]` under `[project.optional-dependencies]`.
"""

import re
import tomllib
from collections.abc import Sequence

_PROJECT = re.compile(r"^\[\s*project\s*\][ \t]*(#[^\n]*)?$", re.MULTILINE)
_EXTRAS = re.compile(
    r"^\[\s*project\s*\.\s*optional-dependencies\s*\][ \t]*(#[^\n]*)?$", re.MULTILINE
)
_TABLE = re.compile(r"^\[", re.MULTILINE)
_DEPENDENCIES = re.compile(r"^dependencies[ \t]*=[ \t]*\[", re.MULTILINE)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class NotAddable(Exception):
    """The `[project] dependencies` array could not be found or safely extended; the
    message says why."""


def distribution(requirement: str) -> str:
    """The normalised distribution name a requirement is on (PEP 503): `Redis[hiredis]>=5`
    gives `redis`."""
    found = _NAME.match(requirement)
    if found is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", found.group(1)).lower()


def missing(text: str, requirements: Sequence[str], extra: str | None = None) -> list[str]:
    """The requirements whose distribution `text` (a pyproject.toml) does not name yet:
    in `[project] dependencies`, or, for an `extra`, there or in that extra."""
    declared = _declared(text, None) if extra is None else _declared(text, extra)
    if extra is not None:
        declared += _declared(text, None, required=False)
    named = {distribution(r) for r in declared}
    return [r for r in requirements if distribution(r) not in named]


def add_requirements(text: str, requirements: Sequence[str], extra: str | None = None) -> str:
    """`text` with each of `requirements` that is missing appended to its `[project]
    dependencies` array (or to the array of the `extra` in `[project.optional-dependencies]`);
    `text` itself when none is missing."""
    wanted = missing(text, requirements, extra)
    if not wanted:
        return text
    before = _declared(text, extra)
    opening = _array_opening(text, extra)
    closing = _closing_bracket(text, opening)
    new = _insert(text, opening, closing, wanted)
    try:
        after = _declared(new, extra)
    except NotAddable:
        after = []
    if after != [*before, *wanted]:
        raise NotAddable("the dependencies array is written in a way otpgen does not extend")
    return new


def _declared(text: str, extra: str | None, *, required: bool = True) -> list[str]:
    """The requirements of `[project] dependencies`, or of the `extra`; [] when there are
    none and not `required`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotAddable(f"it is not valid TOML: {exc}") from None
    project = data.get("project")
    if not isinstance(project, dict):
        raise NotAddable("it has no [project] table")
    if extra is None:
        declared = project.get("dependencies", None)
        where = "its [project] table has no dependencies array"
    else:
        extras = project.get("optional-dependencies", {})
        declared = extras.get(extra) if isinstance(extras, dict) else None
        where = f"its [project.optional-dependencies] table has no {extra} array"
    if not isinstance(declared, list) or not all(isinstance(d, str) for d in declared):
        if not required:
            return []
        raise NotAddable(where)
    return declared


def _array_opening(text: str, extra: str | None = None) -> int:
    """The offset of the `[` opening `dependencies = [` inside the `[project]` table, or
    `<extra> = [` inside `[project.optional-dependencies]`."""
    table = "[project]" if extra is None else "[project.optional-dependencies]"
    header = (_PROJECT if extra is None else _EXTRAS).search(text)
    if header is None:
        raise NotAddable(f"no `{table}` header on a line of its own")
    following = _TABLE.search(text, header.end())
    end = following.start() if following else len(text)
    key = _DEPENDENCIES if extra is None else _key(extra)
    found = key.search(text, header.end(), end)
    if found is None:
        name = "dependencies" if extra is None else extra
        raise NotAddable(f"no `{name} = [` line in {table}")
    return found.end() - 1


def _key(name: str) -> re.Pattern[str]:
    """`name = [` at the start of a line (the key bare or quoted)."""
    key = re.escape(name)
    return re.compile(rf"""^(?:{key}|"{key}"|'{key}')[ \t]*=[ \t]*\[""", re.MULTILINE)


def _closing_bracket(text: str, opening: int) -> int:
    """The offset of the `]` closing the array opened at `opening`: strings and comments
    are skipped, so a `]` inside either does not count."""
    index = opening + 1
    while index < len(text):
        char = text[index]
        if char == "]":
            return index
        if char == "#":
            newline = text.find("\n", index)
            index = len(text) if newline < 0 else newline
        elif char in "\"'":
            quote = text[index : index + 3] if text[index : index + 3] == char * 3 else char
            index = _string_end(text, index + len(quote), quote)
            continue
        elif char == "[":
            raise NotAddable("the dependencies array holds a nested array")
        index += 1
    raise NotAddable("the dependencies array is not closed")


def _string_end(text: str, index: int, quote: str) -> int:
    """The offset just past the string whose body starts at `index`."""
    while index < len(text):
        if quote[0] == '"' and text[index] == "\\":
            index += 2
            continue
        if text.startswith(quote, index):
            return index + len(quote)
        index += 1
    raise NotAddable("a string in the dependencies array is not closed")


def _insert(text: str, opening: int, closing: int, wanted: Sequence[str]) -> str:
    body = text[opening + 1 : closing]
    items = [_quoted(r) for r in wanted]
    if "\n" not in body:  # one line: `[]` or `["a", "b"]`
        stripped = body.rstrip()
        if not stripped.strip():
            return f"{text[: opening + 1]}{', '.join(items)}{text[closing:]}"
        comma = "" if stripped.endswith(",") else ","
        added = f"{comma} {', '.join(items)}"
        return f"{text[: opening + 1 + len(stripped)]}{added}{text[opening + 1 + len(stripped) :]}"
    # One element a line: a new line per requirement before the closing bracket's line,
    # indented like the last element, after a comma the last element may lack.
    line_start = text.rfind("\n", 0, closing) + 1
    if text[line_start:closing].strip():
        raise NotAddable("the closing bracket shares its line with an element")
    last = _last_element_end(text, opening, line_start)
    if last is None:
        indent = "    "
        prefix = text[:line_start]
    else:
        line = text[text.rfind("\n", 0, last) + 1 : last]
        indent = line[: len(line) - len(line.lstrip())]
        comma = "" if text[last - 1] == "," else ","
        prefix = f"{text[:last]}{comma}{text[last:line_start]}"
    lines = "".join(f"{indent}{item},\n" for item in items)
    return f"{prefix}{lines}{text[line_start:]}"


def _last_element_end(text: str, opening: int, stop: int) -> int | None:
    """The offset just past the last string element (and its comma, if any) before
    `stop`, or None for an array with no element."""
    end: int | None = None
    index = opening + 1
    while index < stop:
        char = text[index]
        if char == "#":
            newline = text.find("\n", index)
            index = stop if newline < 0 else newline
        elif char in "\"'":
            quote = text[index : index + 3] if text[index : index + 3] == char * 3 else char
            index = end = _string_end(text, index + len(quote), quote)
            continue
        elif char == "," and end is not None and not text[end:index].strip():
            end = index + 1
        index += 1
    return end


def _quoted(requirement: str) -> str:
    if '"' in requirement or "\\" in requirement:
        raise ValueError(f"not a requirement: {requirement!r}")
    return f'"{requirement}"'

"""The patterns otpgen can render: their metadata, typed options and the relations between
options that a render must satisfy (`pattern.toml`)."""

import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from otpgen._errors import OtpgenError
from otpgen._files import read_toml
from otpgen._record import frozen

OptionValue = str | int | float | bool

ALWAYS = "always"
"""The `[dependencies]` key of the requirements every render of a pattern imports."""

_TYPES = ("str", "int", "float", "bool", "choice")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

# The comparisons a `[[checks]]` rule may use, as `<option> <operator> <option>`: a fixed
# table, so a rule is looked up, never evaluated as code.
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@frozen
class Option:
    """One `--set key=value` option of a pattern."""

    key: str
    type: str
    default: OptionValue
    help: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    # the largest value a generated module and its tests still handle (a loop over it, a
    # deadline, a socket count): past it `new` refuses the value rather than render code
    # that overflows or never finishes
    max: float | None = None
    # str options: a regular expression the whole value must match, and what it means
    # in words for the error ("a host name or an IP address")
    match: str | None = None
    match_help: str = ""

    def describe_type(self) -> str:
        """The type as `otpgen show` prints it."""
        if self.type == "choice":
            return " | ".join(self.choices)
        if self.min is not None and self.max is not None:
            return f"{self.type} in {_bound(self.min)}..{_bound(self.max)}"
        if self.min is not None:
            return f"{self.type} >= {_bound(self.min)}"
        if self.max is not None:
            return f"{self.type} <= {_bound(self.max)}"
        return self.type

    def parse(self, raw: str, *, bounded: bool = True) -> OptionValue:
        """Parse a command-line value, or raise OtpgenError saying what was expected.
        `bounded=False` lets a value past `max` through: an answer a project recorded
        before the bound existed, which `update` renders again rather than refuse."""
        value: OptionValue
        if self.type == "choice":
            if raw not in self.choices:
                raise OtpgenError(
                    f"expected {self.key} to be one of {', '.join(self.choices)}, got: {raw!r}"
                )
            return raw
        if self.type == "bool":
            lowered = raw.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise OtpgenError(f"expected {self.key} to be true or false, got: {raw!r}")
        if self.type == "int":
            try:
                value = int(raw)
            except ValueError:
                raise OtpgenError(f"expected {self.key} to be an integer, got: {raw!r}") from None
        elif self.type == "float":
            try:
                value = float(raw)
            except ValueError:
                raise OtpgenError(f"expected {self.key} to be a number, got: {raw!r}") from None
            if value != value or value in (float("inf"), float("-inf")):
                raise OtpgenError(f"expected {self.key} to be a finite number, got: {raw!r}")
        else:
            if not raw.isprintable() or not raw.strip():
                raise OtpgenError(f"expected {self.key} to be printable text, got: {raw!r}")
            if self.match is not None and not _matches(self.match, raw):
                raise OtpgenError(f"expected {self.key} to be {self.match_help}, got: {raw!r}")
            return raw
        if self.min is not None and value < self.min:
            raise OtpgenError(f"expected {self.key} to be >= {_bound(self.min)}, got: {raw!r}")
        if bounded and self.max is not None and value > self.max:
            raise OtpgenError(f"expected {self.key} to be <= {_bound(self.max)}, got: {raw!r}")
        return value


@frozen
class Check:
    """A relation between two numeric options that every render must satisfy, declared in
    `pattern.toml` as `[[checks]]` with `rule = "min_size <= max_size"` and `why`, the
    reason the module cannot run otherwise."""

    left: str
    op: str
    right: str
    why: str

    @property
    def rule(self) -> str:
        """The rule as written, e.g. `min_size <= max_size`."""
        return f"{self.left} {self.op} {self.right}"

    def holds(self, values: Mapping[str, OptionValue]) -> bool:
        """Whether `values` (every option's value) satisfy the rule."""
        left, right = values[self.left], values[self.right]
        # Both are int or float options: loading the pattern checked that.
        assert isinstance(left, int | float)
        assert isinstance(right, int | float)
        return _COMPARISONS[self.op](left, right)

    def failure(self, pattern: str, values: Mapping[str, OptionValue], given: set[str]) -> str:
        """The one-line error for `values` that break the rule: both options, their values
        (marking defaults, which the user did not choose) and the two ways to fix it."""

        def shown(key: str) -> str:
            default = "" if key in given else " (its default)"
            return f"{key}={_number(values[key])}{default}"

        # Normalise to `low < high` or `low <= high`: the fix lowers `low` or raises `high`.
        low, high = (self.left, self.right) if self.op in ("<", "<=") else (self.right, self.left)
        low_value, high_value = values[low], values[high]
        if self.op in ("<=", ">="):
            lower, higher = f"={_number(high_value)} or less", f"={_number(low_value)} or more"
        elif isinstance(low_value, int) and isinstance(high_value, int):
            lower, higher = f"={high_value - 1} or less", f"={low_value + 1} or more"
        else:  # strictly, with a float: no nearest value to name
            lower, higher = f" below {_number(high_value)}", f" above {_number(low_value)}"
        return (
            f"{pattern} needs {self.rule} ({self.why}); got {shown(self.left)} and "
            f"{shown(self.right)}: pass --set {low}{lower}, or --set {high}{higher}"
        )


def _bound(value: float) -> str:
    """A `min` or `max` as written: whole numbers in full (10000000, not 1e+07)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _number(value: OptionValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@frozen
class Pattern:
    """A pattern's metadata; its templates sit beside `pattern.toml` in `directory`."""

    name: str
    version: int
    summary: str
    use_when: str
    dont_use_when: str
    options: tuple[Option, ...]
    directory: Path
    wire_imports: tuple[str, ...] = ()
    wire_child: str | None = None  # how `new` adds it to a service's tree; None: it is not
    wire_when: str | None = None  # a bool option, or `option=value`, that gives it a process
    # `last = true`: its child stays the last of the tree (the web child: it starts when
    # everything it reports on runs, and stops first); later modules are wired before it
    wire_last: bool = False
    # a statement run first in the application's main(), before the tree starts, e.g.
    # `{name}.install()` for a module that sets up the process (tracing hooks)
    wire_setup: str | None = None
    checks: tuple[Check, ...] = ()  # relations between options every render satisfies
    # `[dependencies]`: (option, value, requirements) - what the module imports when the
    # option has that value, added to a service's pyproject.toml by `otpgen new`; the
    # option ALWAYS (`always = [...]` in pattern.toml): what every render imports
    dependencies: tuple[tuple[str, OptionValue, tuple[str, ...]], ...] = ()
    # `[test-dependencies]`: the same for what its test imports, added to the `test` extra
    test_dependencies: tuple[tuple[str, OptionValue, tuple[str, ...]], ...] = ()

    def wiring(
        self,
        package: str,
        name: str,
        class_name: str,
        options: Mapping[str, object] | None = None,
    ) -> tuple[tuple[str, ...], str | None, str | None] | None:
        """The imports, the child spec expression and the setup statement (either may be
        None) that put this module in a service's application.py; None: nothing to add."""
        if self.wire_child is None and self.wire_setup is None:
            return None
        if self.wire_when is not None:
            # `when` names a bool option that must be true, or is `option=value`.
            chosen = dict(options or {})
            key, _, wanted = self.wire_when.partition("=")
            value = chosen.get(key, self.option(key).default)
            if not (str(value) == wanted if wanted else value):
                return None
        fields = {"package": package, "name": name, "class_name": class_name}
        imports = tuple(line.format(**fields) for line in self.wire_imports)
        child = None if self.wire_child is None else self.wire_child.format(**fields)
        setup = None if self.wire_setup is None else self.wire_setup.format(**fields)
        return imports, child, setup

    def requirements(self, options: Mapping[str, object]) -> tuple[str, ...]:
        """The third-party requirements a render with `options` imports, e.g.
        `("redis>=5",)` for `backend=redis`; options not given take their defaults."""
        return self._selected(self.dependencies, options)

    def test_requirements(self, options: Mapping[str, object]) -> tuple[str, ...]:
        """What a render's test imports beyond pytest, e.g. an SDK whose in-memory exporter
        it reads; `otpgen new` adds it to the project's `test` extra."""
        return self._selected(self.test_dependencies, options)

    def _selected(
        self,
        entries: tuple[tuple[str, OptionValue, tuple[str, ...]], ...],
        options: Mapping[str, object],
    ) -> tuple[str, ...]:
        found: list[str] = []
        for key, value, requirements in entries:
            if key == ALWAYS or options.get(key, self.option(key).default) == value:
                found += [r for r in requirements if r not in found]
        return tuple(found)

    def option(self, key: str) -> Option:
        """The option named `key`, or an error listing the ones that exist."""
        for option in self.options:
            if option.key == key:
                return option
        known = ", ".join(o.key for o in self.options) or "none"
        raise OtpgenError(f"pattern {self.name} has no option {key!r}; its options: {known}")

    def parse(self, settings: Mapping[str, str]) -> dict[str, OptionValue]:
        """The given settings parsed, each on its own (the checks are not applied)."""
        return {key: self.option(key).parse(raw) for key, raw in settings.items()}

    def resolve(self, settings: Mapping[str, str]) -> dict[str, OptionValue]:
        """Every option's value: the parsed setting where given, else the default; an
        OtpgenError if they break one of the pattern's checks."""
        given = self.parse(settings)
        values = {o.key: given.get(o.key, o.default) for o in self.options}
        self.verify(values, set(given))
        return values

    def verify(self, values: Mapping[str, OptionValue], given: set[str]) -> None:
        """Raise OtpgenError for the first check `values` break. A check reading an option
        missing from `values` is skipped (the prompts check what they know so far); `given`
        names the options the user chose, the others being defaults."""
        for check in self.checks:
            if check.left in values and check.right in values and not check.holds(values):
                raise OtpgenError(check.failure(self.name, values, given))

    def checks_of(self, key: str) -> tuple[Check, ...]:
        """The checks that read option `key`."""
        return tuple(c for c in self.checks if key in (c.left, c.right))


def _load(directory: Path) -> Pattern:
    where = directory / "pattern.toml"
    data = read_toml(where) or {}
    try:
        return _pattern(directory, where, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise OtpgenError(f"{where} is not a valid pattern: {problem}") from None


def _pattern(directory: Path, where: Path, data: dict[str, Any]) -> Pattern:
    options = tuple(_load_option(key, raw, where) for key, raw in data.get("options", {}).items())
    checks = tuple(_load_check(raw, options, where) for raw in data.get("checks", ()))
    pattern = Pattern(
        name=directory.name,
        version=int(data["version"]),
        summary=str(data["summary"]),
        use_when=str(data["use_when"]),
        dont_use_when=str(data["dont_use_when"]),
        options=options,
        directory=directory,
        wire_imports=tuple(data.get("wire", {}).get("imports", ())),
        wire_child=data.get("wire", {}).get("child"),
        wire_when=data.get("wire", {}).get("when"),
        wire_last=bool(data.get("wire", {}).get("last", False)),
        wire_setup=data.get("wire", {}).get("setup"),
        checks=checks,
        dependencies=tuple(
            _load_dependency(when, raw, options, where)
            for when, raw in data.get("dependencies", {}).items()
        ),
        test_dependencies=tuple(
            _load_dependency(when, raw, options, where, "test-dependencies")
            for when, raw in data.get("test-dependencies", {}).items()
        ),
    )
    defaults = {o.key: o.default for o in options}
    for check in checks:
        if not check.holds(defaults):
            raise OtpgenError(f"{where}: the defaults break check {check.rule!r}")
    return pattern


def _matches(pattern: str, value: str) -> bool:
    """Whether all of `value` matches the regular expression `pattern`."""
    import re  # only the options that declare a match pay for it

    return re.fullmatch(pattern, value) is not None


def _load_option(key: str, raw: dict[str, Any], where: Path) -> Option:
    kind = raw.get("type")
    if kind not in _TYPES:
        raise OtpgenError(
            f"{where}: option {key}: type must be one of {', '.join(_TYPES)}, got: {kind!r}"
        )
    match = raw.get("match")
    if match is not None:
        if kind != "str" or not isinstance(match, str) or not raw.get("match_help"):
            raise OtpgenError(
                f"{where}: option {key}: `match` is for str options, with `match_help`"
            )
        import re  # only the patterns that declare a match pay for it

        try:
            re.compile(match)
        except re.error as exc:
            raise OtpgenError(f"{where}: option {key}: match {match!r}: {exc}") from None
    if raw.get("max") is not None and kind not in ("int", "float"):
        raise OtpgenError(f"{where}: option {key}: `max` is for int and float options")
    return Option(
        key=key,
        type=kind,
        default=raw["default"],
        help=str(raw["help"]),
        choices=tuple(raw.get("choices", ())),
        min=raw.get("min"),
        max=raw.get("max"),
        match=match,
        match_help=str(raw.get("match_help", "")),
    )


def _load_check(raw: dict[str, Any], options: tuple[Option, ...], where: Path) -> Check:
    """A `[[checks]]` entry: `rule` is `<option> <operator> <option>`, both numeric."""
    rule, why = str(raw["rule"]), str(raw["why"])
    parts = rule.split()
    numeric = {o.key for o in options if o.type in ("int", "float")}
    if (
        len(parts) != 3
        or parts[1] not in _COMPARISONS
        or not {parts[0], parts[2]} <= numeric
        or parts[0] == parts[2]
    ):
        raise OtpgenError(
            f"{where}: check {rule!r}: expected `<option> <operator> <option>` with two "
            f"different int or float options and one of {' '.join(_COMPARISONS)}"
        )
    return Check(left=parts[0], op=parts[1], right=parts[2], why=why)


def _load_dependency(
    when: str,
    raw: Any,
    options: tuple[Option, ...],
    where: Path,
    table: str = "dependencies",
) -> tuple[str, OptionValue, tuple[str, ...]]:
    """A `[dependencies]` (or `[test-dependencies]`) entry: `"<option>=<value>" =
    ["requirement", ...]`, or `always = [...]` for requirements whatever the options."""
    from otpgen._requires import distribution

    key, sep, text = when.partition("=")
    found = [o for o in options if o.key == key.strip()]
    if when.strip() != ALWAYS and (not sep or not found):
        raise OtpgenError(f"{where}: {table} {when!r}: expected `<option>=<value>` or `{ALWAYS}`")
    if not isinstance(raw, list) or not raw or not all(isinstance(r, str) for r in raw):
        raise OtpgenError(f"{where}: {table} {when!r}: expected a list of requirements")
    for requirement in raw:
        try:
            distribution(requirement)
        except ValueError as exc:
            raise OtpgenError(f"{where}: {table} {when!r}: {exc}") from None
    if when.strip() == ALWAYS:
        return ALWAYS, True, tuple(raw)
    try:
        value = found[0].parse(text.strip())
    except OtpgenError as exc:
        raise OtpgenError(f"{where}: {table} {when!r}: {exc}") from None
    return found[0].key, value, tuple(raw)


def load_patterns(templates: Path) -> dict[str, Pattern]:
    """Every pattern under `templates/patterns`, by name, in name order."""
    root = templates / "patterns"
    found = sorted(p.parent for p in root.glob("*/pattern.toml"))
    return {directory.name: _load(directory) for directory in found}


def load_named(templates: Path, names: set[str]) -> dict[str, Pattern]:
    """The patterns among `names` that exist, by name (`update` reads only the ones its
    project uses; a name with no pattern is left out, for the caller to report)."""
    root = templates / "patterns"
    return {
        name: _load(root / name)
        for name in sorted(names)
        if "/" not in name
        and name not in ("", ".", "..")
        and (root / name / "pattern.toml").is_file()
    }


def load_pattern(templates: Path, name: str) -> Pattern:
    """The pattern called `name` (reading its pattern.toml alone), or an error suggesting
    the closest one."""
    directory = templates / "patterns" / name
    if "/" not in name and name not in (".", "..") and (directory / "pattern.toml").is_file():
        return _load(directory)
    return find_pattern(load_patterns(templates), name)


def find_pattern(patterns: dict[str, Pattern], name: str) -> Pattern:
    """The pattern called `name`, or an error suggesting the closest one."""
    if name in patterns:
        return patterns[name]
    import difflib

    close = difflib.get_close_matches(name, list(patterns), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise OtpgenError(
        f"unknown pattern {name!r}{hint} (see `otpgen list`; known: {', '.join(patterns)})"
    )

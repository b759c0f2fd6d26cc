"""The generated modules read as if written for the user (issue #11): the names they
register, what their prose says, and what their examples are about.

Each pattern is rendered in process (no project, no formatting), once per option value,
as package `shop`; the checks read the rendered text.
"""

import re
from pathlib import PurePosixPath

import pytest

from otpgen._names import class_name
from otpgen._patterns import Option, Pattern, load_patterns
from otpgen._render import Answers, render_pattern
from otpgen._templates import templates_dir

PATTERNS = load_patterns(templates_dir())


def values(option: Option) -> list[str]:
    """Each choice, both booleans, else the default."""
    if option.type == "choice":
        return list(option.choices)
    if option.type == "bool":
        return ["true", "false"]
    return [str(option.default)]


def settings(pattern: Pattern) -> list[dict[str, str]]:
    """The defaults, then every other value of every option, one at a time."""
    runs: list[dict[str, str]] = [{}]
    for option in pattern.options:
        runs += [{option.key: v} for v in values(option) if v != str(option.default)]
    return runs


def render(pattern: Pattern, name: str, chosen: dict[str, str]) -> tuple[str, str]:
    """The module and its test, rendered as `name` in package `shop`."""
    answers = Answers(pattern.name, name, class_name(name), "shop", pattern.resolve(chosen))
    tree = render_pattern(pattern, answers, PurePosixPath("src/shop"))
    module = tree[PurePosixPath(f"src/shop/{name}.py")]
    test = tree[PurePosixPath(f"tests/test_{name}.py")]
    return str(module), str(test)


def renders(name: str) -> list[tuple[str, dict[str, str], str]]:
    """(pattern, settings, module text) for every pattern and option value."""
    return [
        (pattern.name, chosen, render(pattern, name, chosen)[0])
        for pattern in PATTERNS.values()
        for chosen in settings(pattern)
    ]


# -- 1. registered names ---------------------------------------------------------------

NAME_LINE = re.compile(r'^NAME: Final = "([^"]*)"$', re.MULTILINE)


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_process_registers_under_package_dot_name(pattern: str) -> None:
    """The rule: a module's NAME is "<package>.<name>", and its process registers under
    it; a helper process of a table that is no process (the cache's sweeper, the rate
    limiter's cleaner) registers under "<package>.<name>.<role>". Wiring never spells a
    name of its own: the module's NAME is the one place it is written."""
    for chosen in settings(PATTERNS[pattern]):
        module, _ = render(PATTERNS[pattern], "orders", chosen)
        names = NAME_LINE.findall(module)
        has_process = "otp." in module and ("child_spec" in module or "Registry(" in module)
        if not has_process:
            continue
        assert len(names) == 1, f"{pattern} {chosen}: NAME constants {names}"
        (found,) = names
        assert re.fullmatch(r"shop\.orders(\.[a-z]+)?", found), (pattern, chosen, found)
        # No other literal name is registered: `name="..."` only in docstring examples
        # that use NAME, never a bare string.
        code = re.sub(r'"""(.|\n)*?"""', "", module)
        assert not re.search(r'name="', code), f"{pattern} {chosen}: a literal name"
    wiring = PATTERNS[pattern].wiring("shop", "orders", "Orders")
    if wiring is not None:
        assert 'name="' not in wiring[1], f"{pattern} wires its own name: {wiring[1]}"


# -- 2. no false comments --------------------------------------------------------------


def test_the_supervisor_does_not_say_otpgen_adds_children_to_it() -> None:
    """`otpgen new` wires a module into the service's application.py, never into a
    supervisor module: the children list says whose it is."""
    module, _ = render(PATTERNS["supervisor"], "orders", {})
    assert "above this line" not in module
    assert "Your children go here" in module


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_no_module_tells_how_it_was_wired(pattern: str) -> None:
    """Whether a module was wired depends on where and how it was generated (a service
    or not, `--no-wire`, the cache's sweeper), which the module cannot know: it only
    says where its child spec goes."""
    for chosen in settings(PATTERNS[pattern]):
        module, _ = render(PATTERNS[pattern], "orders", chosen)
        for claim in ("wired", "--no-wire", "otpgen new", "otpgen init"):
            assert claim not in module, f"{pattern} {chosen}: {claim!r}"

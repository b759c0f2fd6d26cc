"""The plain command lines of `new`, `update` and `check`, parsed without typer.

Importing typer costs about a third of an `otpgen new`, and these three commands are the
ones run over and over (`check` in pre-commit hooks). A command line made only of the
options below, written out in full, is parsed here and handed to `_commands`, exactly as
the typer application would hand it; anything else — `--help`, a short or unknown option,
a missing or extra argument, a bad choice, a terminal that `new` would prompt on — returns
None, and typer takes the whole command line as usual (with its own error messages).
`tests/test_fastpath.py` checks these tables against the typer application's, option by
option, so the two cannot drift apart.
"""

import sys
from pathlib import Path

from otpgen._record import field, frozen

FORMATS = ("text", "json")


@frozen
class Spec:
    """One command's arguments and options, as its typer command declares them."""

    arguments: tuple[str, ...]  # parameter names, in order
    required: int  # how many of them must be given
    variadic: bool = False  # the last argument takes any number of values
    flags: dict[str, str] = field(default_factory=dict)  # option -> parameter
    values: dict[str, str] = field(default_factory=dict)  # option -> parameter
    multiple: frozenset[str] = frozenset()  # value options that may repeat
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # value options' defaults


SPECS = {
    "new": Spec(
        arguments=("pattern", "name"),
        required=1,
        flags={
            "--dry-run": "dry_run",
            "--force": "force",
            "--overwrite-edited": "overwrite_edited",
            "--stdout": "stdout",
            "--no-input": "no_input",
            "--no-wire": "no_wire",
        },
        values={"--package": "package", "--set": "set_", "--format": "format"},
        multiple=frozenset({"--set"}),
        choices={"--format": FORMATS},
        defaults={"--format": "text"},
    ),
    "update": Spec(
        arguments=("paths",),
        required=0,
        variadic=True,
        flags={"--dry-run": "dry_run", "--restore-deleted": "restore_deleted"},
        values={"--conflict": "conflict", "--format": "format"},
        choices={"--conflict": ("markers", "rej"), "--format": FORMATS},
        defaults={"--conflict": "markers", "--format": "text"},
    ),
    "check": Spec(
        arguments=(),
        required=0,
        values={"--format": "format"},
        choices={"--format": FORMATS},
        defaults={"--format": "text"},
    ),
}

Params = dict[str, object]


def parse(args: list[str]) -> tuple[str, Params] | None:
    """(command, parameters) for a plain command line, or None to let typer parse it."""
    if not args or args[0] not in SPECS:
        return None
    spec = SPECS[args[0]]
    params: Params = dict.fromkeys(spec.flags.values(), False)
    params |= {
        name: [] if option in spec.multiple else spec.defaults.get(option)
        for option, name in spec.values.items()
    }
    positional: list[str] = []
    words = iter(args[1:])
    for word in words:
        if word == "--":
            positional += list(words)
            break
        if not word.startswith("-") or word == "-":
            if word == "-":
                return None
            positional.append(word)
            continue
        option, equals, value = word.partition("=")
        if option in spec.flags and not equals:
            params[spec.flags[option]] = True
            continue
        if option not in spec.values:
            return None  # --help, a short option, a typo: typer knows what to say
        if not equals:
            value = next(words, None)  # type: ignore[assignment]
            if value is None:
                return None
        if option in spec.choices and value not in spec.choices[option]:
            return None
        name = spec.values[option]
        if option in spec.multiple:
            params[name].append(value)  # type: ignore[attr-defined]
        else:
            params[name] = value
    if len(positional) < spec.required:
        return None
    if not spec.variadic and len(positional) > len(spec.arguments):
        return None
    for index, name in enumerate(spec.arguments):
        if spec.variadic and index == len(spec.arguments) - 1:
            params[name] = positional[index:]
        else:
            params[name] = positional[index] if index < len(positional) else None
    if args[0] == "new" and _would_prompt(params):
        return None
    return args[0], params


def _would_prompt(params: Params) -> bool:
    """Whether `new` asks for options on this terminal (typer's prompts do that)."""
    quiet = params["no_input"] or params["stdout"] or params["format"] != "text"
    try:
        return not quiet and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def run(command: str, params: Params) -> int:
    """Run a parsed command; its exit status."""
    from otpgen import _commands

    try:
        if command == "new":
            _commands.new(
                pattern=str(params["pattern"]),
                name=params["name"],  # type: ignore[arg-type]
                package=params["package"],  # type: ignore[arg-type]
                settings=params["set_"],  # type: ignore[arg-type]
                dry_run=bool(params["dry_run"]),
                force=bool(params["force"]),
                overwrite_edited=bool(params["overwrite_edited"]),
                stdout=bool(params["stdout"]),
                as_json=params["format"] == "json",
                wire=not params["no_wire"],
            )
        elif command == "update":
            _commands.update(
                paths=[Path(p) for p in params["paths"]],  # type: ignore[attr-defined]
                dry_run=bool(params["dry_run"]),
                rej=params["conflict"] == "rej",
                restore_deleted=bool(params["restore_deleted"]),
                as_json=params["format"] == "json",
            )
        else:
            _commands.check(as_json=params["format"] == "json")
    except _commands.Exit as exit_:
        return exit_.code
    return 0

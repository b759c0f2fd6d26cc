"""The ``otpgen`` command line.

The CLI only parses arguments, calls the engine and prints. Keep this module's imports light:
``otpgen --version`` and ``--help`` must not pay for jinja2, cookiecutter or merge3, so every
command imports the engine inside its function.
"""

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from otpgen._version import __version__

HELP = (
    "otpgen writes ready-to-run Python asyncio modules for Erlang/OTP process patterns "
    "(GenServer, Supervisor, Registry, ...), bootstraps service repositories around a "
    "supervision tree, and regenerates after template upgrades keeping user edits. Its "
    "runtime, the kernel (standard-library asyncio only), is vendored into your package "
    "as <package>/otp/."
)

app = typer.Typer(
    help=HELP,
    add_completion=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

T = TypeVar("T")


class Format(StrEnum):
    """Output format of the commands that have one."""

    text = "text"
    json = "json"


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _typer_exit(action: Callable[[], T]) -> T:
    """Run a `_commands` call; its exit status becomes typer's."""
    from otpgen import _commands

    try:
        return action()
    except _commands.Exit as exit_:
        raise typer.Exit(exit_.code) from None


def _engine(action: Callable[[], T]) -> T:
    """Run an engine call, turning its errors into one line and an exit code."""
    from otpgen import _commands

    return _typer_exit(lambda: _commands.engine(action))


def _complete_pattern(incomplete: str) -> list[str]:
    """Shell completion of a PATTERN argument: the pattern names starting with it."""
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    return [name for name in load_patterns(templates_dir()) if name.startswith(incomplete)]


def _complete_setting(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of `--set`: the pattern's option keys as `key=`, then a choice or
    boolean option's values as `key=value`."""
    from otpgen._errors import OtpgenError
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    patterns = load_patterns(templates_dir())
    # While `--set` waits for its value, click leaves the words before it in ctx.args.
    words = [ctx.params.get("pattern"), *ctx.args]
    pattern = next((patterns[w] for w in words if isinstance(w, str) and w in patterns), None)
    if pattern is None:
        return []
    key, sep, _ = incomplete.partition("=")
    if not sep:
        return [f"{o.key}=" for o in pattern.options if o.key.startswith(incomplete)]
    try:
        option = pattern.option(key)
    except OtpgenError:
        return []
    values = option.choices or (("true", "false") if option.type == "bool" else ())
    return [f"{key}={v}" for v in values if f"{key}={v}".startswith(incomplete)]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"otpgen {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the otpgen version and exit.",
        ),
    ] = False,
) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def _print_json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2))


@app.command("list")
def list_patterns(
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """List every pattern with when to use it and when not.

    Example: otpgen list --format json
    """
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    patterns = _engine(lambda: load_patterns(templates_dir()))
    if format is Format.json:
        _print_json(
            [
                {
                    "name": p.name,
                    "summary": p.summary,
                    "use_when": p.use_when,
                    "dont_use_when": p.dont_use_when,
                }
                for p in patterns.values()
            ]
        )
        return
    for pattern in patterns.values():
        typer.echo(f"{pattern.name}\n  {pattern.summary}")
        typer.echo(f"  use when:       {pattern.use_when}")
        typer.echo(f"  don't use when: {pattern.dont_use_when}")


@app.command()
def show(
    pattern: Annotated[
        str, typer.Argument(help="The pattern, e.g. genserver.", autocompletion=_complete_pattern)
    ],
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Show a pattern's options (types, defaults, help) and the files it renders.

    Example: otpgen show supervisor
    """
    from otpgen._patterns import ALWAYS, find_pattern, load_patterns
    from otpgen._templates import templates_dir

    found = _engine(lambda: find_pattern(load_patterns(templates_dir()), pattern))
    renders = [
        f"<package>/{found.name.replace('-', '_')}.py (or <package>/<NAME>.py)",
        "tests/test_<NAME>.py",
        "<package>/otp/ (the kernel, on first use)",
    ]
    if format is Format.json:
        _print_json(
            {
                "name": found.name,
                "version": found.version,
                "summary": found.summary,
                "use_when": found.use_when,
                "dont_use_when": found.dont_use_when,
                "options": [
                    {
                        "key": o.key,
                        "type": o.type,
                        "choices": list(o.choices),
                        "min": o.min,
                        "max": o.max,
                        "default": o.default,
                        "help": o.help,
                    }
                    for o in found.options
                ],
                "checks": [{"rule": c.rule, "why": c.why} for c in found.checks],
                "dependencies": [
                    {
                        "when": ALWAYS if key == ALWAYS else f"{key}={value}",
                        "requires": list(requirements),
                    }
                    for key, value, requirements in found.dependencies
                ],
                "test_dependencies": [
                    {
                        "when": ALWAYS if key == ALWAYS else f"{key}={value}",
                        "requires": list(requirements),
                    }
                    for key, value, requirements in found.test_dependencies
                ],
                "renders": renders,
            }
        )
        return
    typer.echo(f"{found.name} (template v{found.version}): {found.summary}")
    typer.echo(f"use when:       {found.use_when}")
    typer.echo(f"don't use when: {found.dont_use_when}")
    for where, entries in (
        ("dependencies", found.dependencies),
        ("test extra", found.test_dependencies),
    ):
        for key, _, requirements in entries:
            if key == ALWAYS:
                typer.echo(f"{where} (always added): {', '.join(requirements)}")
    typer.echo("options (--set key=value):" if found.options else "options: none")
    import json

    for o in found.options:
        default = json.dumps(o.default)
        typer.echo(f"  {o.key}: {o.describe_type()} = {default}\n      {o.help}")
        for check in found.checks_of(o.key):
            typer.echo(f"      must hold: {check.rule} ({check.why})")
        for where, entries in (
            ("dependencies", found.dependencies),
            ("test extra", found.test_dependencies),
        ):
            for key, value, requirements in entries:
                if key == o.key:
                    needs = ", ".join(requirements)
                    typer.echo(f"      {key}={value} adds to your {where}: {needs}")
    typer.echo("renders:")
    for line in renders:
        typer.echo(f"  {line}")


def _ask(text: str, default: str) -> str:
    """A prompt Ctrl-C always interrupts (see `_prompt`); end of input aborts, as click's."""
    from otpgen._prompt import ask

    try:
        return ask(text, default)
    except EOFError:
        raise typer.Abort() from None


def _prompt_options(request: Any) -> Any:
    """Ask for each option not given with --set (terminal only); Enter keeps the default."""
    from otpgen._errors import OtpgenError
    from otpgen._names import module_name
    from otpgen._patterns import find_pattern, load_patterns
    from otpgen._record import replace
    from otpgen._templates import templates_dir

    pattern = find_pattern(load_patterns(templates_dir()), request.pattern)
    module_name(request.name if request.name is not None else pattern.name)  # fail first
    settings = dict(request.settings)
    known = pattern.parse(settings)
    given = set(known)
    pattern.verify(known, given)  # options given with --set that break a check: fail first
    for option in pattern.options:
        if option.key in settings:
            continue
        typer.echo(f"{option.key}: {option.help}", err=True)
        for number, choice in enumerate(option.choices, 1):
            typer.echo(f"  {number}  {choice}", err=True)
        while True:
            default = str(option.default).lower() if option.type == "bool" else option.default
            raw = _ask(f"{option.key} ({option.describe_type()})", str(default))
            raw = _chosen(raw, option.choices)
            try:
                value = option.parse(raw)
                # The checks between this answer and the options known so far; the rest
                # are checked once their other option is answered too.
                pattern.verify({**known, option.key: value}, given | {option.key})
            except OtpgenError as exc:
                typer.echo(f"  {exc}", err=True)
                continue
            settings[option.key] = raw
            known[option.key] = value
            given.add(option.key)
            break
    return replace(request, settings=settings)


def _chosen(raw: str, choices: tuple[str, ...]) -> str:
    """The choice numbered `raw` in a list printed from 1, or `raw` itself."""
    if raw.strip().isdigit() and 1 <= int(raw) <= len(choices):
        return choices[int(raw) - 1]
    return raw


def _pick_pattern() -> str:
    """Ask which pattern, from the numbered list with each one's summary (terminal only)."""
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    patterns = list(load_patterns(templates_dir()).values())
    width = max(len(p.name) for p in patterns)
    digits = len(str(len(patterns)))
    typer.echo("Which pattern? (`otpgen show PATTERN` says more about one)", err=True)
    for number, found in enumerate(patterns, 1):
        summary = _first_sentence(found.summary)
        typer.echo(f"  {number:>{digits}}  {found.name:<{width}}  {summary}", err=True)
    names = tuple(p.name for p in patterns)
    return _chosen(_ask(f"pattern (1-{len(names)} or a name)", names[0]), names)


def _first_sentence(text: str) -> str:
    head, _, _ = text.partition(": ")
    return head.rstrip(".")


@app.command()
def new(
    pattern: Annotated[
        str | None,
        typer.Argument(
            help="The pattern: see `otpgen list`; on a terminal, asked if omitted.",
            autocompletion=_complete_pattern,
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Argument(help="Module name; defaults to the pattern's name.")
    ] = None,
    package: Annotated[
        str | None,
        typer.Option(help="Target package; default: [tool.otpgen] package, else detected."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A pattern option, key=value (repeatable). `otpgen show PATTERN` lists the "
            "options and the rules between them (e.g. min_size <= max_size), which new enforces.",
            autocompletion=_complete_setting,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diff; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite existing files otpgen can replace.")
    ] = False,
    overwrite_edited: Annotated[
        bool,
        typer.Option("--overwrite-edited", help="Also overwrite generated files you edited."),
    ] = False,
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the rendered module; write nothing.")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; use defaults for unset options.")
    ] = False,
    no_wire: Annotated[
        bool,
        typer.Option("--no-wire", help="Do not add it to the service's application.py."),
    ] = False,
) -> None:
    """Write a ready-to-run module and its test for PATTERN.

    Example: otpgen new genserver inventory --set restart=transient
    """
    from otpgen import _commands

    interactive = not no_input and format is Format.text and not stdout and sys.stdin.isatty()
    if pattern is None:
        if not interactive:
            _fail("Missing argument 'PATTERN'. (see `otpgen new --help`)")
        pattern = _pick_pattern()
    chosen = pattern
    _typer_exit(
        lambda: _commands.new(
            pattern=chosen,
            name=name,
            package=package,
            settings=set_ or [],
            dry_run=dry_run,
            force=force,
            overwrite_edited=overwrite_edited,
            stdout=stdout,
            as_json=format is Format.json,
            wire=not no_wire,
            ask=_prompt_options if interactive else None,
        )
    )


@app.command()
def init(
    directory: Annotated[
        Path | None,
        typer.Argument(help="Where to create it; default: ./<project_slug>."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="A template variable, key=value (repeatable)."),
    ] = None,
    template: Annotated[
        Path | None, typer.Option(help="Your own cookiecutter template instead of the built-in.")
    ] = None,
    trust: Annotated[
        bool, typer.Option("--trust", help="Run the hooks of a --template (off by default).")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Use a non-empty directory (files are never overwritten)."),
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; use the defaults.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List the files it would create; write nothing (a template's hooks never run).",
        ),
    ] = False,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Add the web child (`otpgen new web`): /healthz, /readyz, /metrics, /observer/.",
        ),
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Bootstrap a service repository around an application supervision tree.

    The repository: pyproject.toml (ruff, mypy --strict, pytest), src/<package>/ with the
    vendored kernel, application.py (the root supervisor) and __main__.py, tests that start
    and stop the application, noxfile.py, CI, a pre-commit hook running `otpgen check`.
    Example: otpgen init billing-service --set description="Invoices and payments"
    """
    from otpgen import _commands
    from otpgen._generate import parse_settings
    from otpgen._init import InitRequest, plan_init

    request = InitRequest(
        directory=directory,
        settings=_engine(lambda: parse_settings(set_ or [])),
        template=template,
        trust=trust and not dry_run,
        force=force,
        web=web,
    )
    if not no_input and sys.stdin.isatty():
        request = _engine(lambda: _prompt_init(request))
    plan = _engine(lambda: plan_init(request))
    if plan.details["hooks_skipped"]:
        hint = "a dry run never runs them" if dry_run else "pass --trust to run them"
        typer.echo(f"the template's hooks were not run; {hint}", err=True)
    fold = None if dry_run else ("", plan.details["where"])
    _typer_exit(
        lambda: _commands.emit(
            plan, dry_run=dry_run, as_json=format is Format.json, fold=fold, diffs=False
        )
    )


def _prompt_init(request: Any) -> Any:
    """Ask for each template variable not given with --set; Enter keeps the default."""
    from otpgen._init import service_context, template_variables
    from otpgen._record import replace
    from otpgen._templates import templates_dir

    source = request.template or templates_dir() / "service"
    settings = dict(request.settings)
    if request.directory is not None:
        settings.setdefault("project_name", request.directory.resolve().name)
    for key in template_variables(source):
        if key in settings or key == "otpgen_version":
            continue
        default = service_context(source, settings)[key]
        settings[key] = _ask(key, str(default))
    return replace(request, settings=settings)


class ConflictStyle(StrEnum):
    """How `update` leaves a file whose edits overlap the template's changes."""

    markers = "markers"
    rej = "rej"


@app.command()
def update(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Only update files under these paths.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print each file's status and diff; write nothing.")
    ] = False,
    conflict: Annotated[
        ConflictStyle,
        typer.Option(
            help="markers: git conflict markers in the file; rej: the new render beside it."
        ),
    ] = ConflictStyle.markers,
    restore_deleted: Annotated[
        bool, typer.Option("--restore-deleted", help="Bring back generated files you deleted.")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Regenerate everything otpgen wrote with the installed templates, keeping your edits.

    Unedited files are replaced, edited ones merged three ways; where your edits overlap the
    template's changes both sides are kept and the file is listed. Exit status: 0 done (or
    nothing to do), 1 conflicts left, 2 error.
    Example: otpgen update --dry-run
    """
    from otpgen import _commands

    _typer_exit(
        lambda: _commands.update(
            paths=paths or [],
            dry_run=dry_run,
            rej=conflict is ConflictStyle.rej,
            restore_deleted=restore_deleted,
            as_json=format is Format.json,
        )
    )


@app.command()
def remove(
    pattern: Annotated[
        str, typer.Argument(help="The module's pattern.", autocompletion=_complete_pattern)
    ],
    name: Annotated[str, typer.Argument(help="The module's name, as given to `otpgen new`.")],
    package: Annotated[
        str | None,
        typer.Option(help="Its package; default: [tool.otpgen] package, else detected."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Remove its files even if you edited them.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diff; write nothing.")
    ] = False,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Take out a module `otpgen new` wrote: the module, its test, its child spec and imports
    in application.py, and its record; the kernel stays.

    Files you edited since are refused unless --force.
    Example: otpgen remove genserver inventory --dry-run
    """
    from otpgen import _commands

    _typer_exit(
        lambda: _commands.remove(
            pattern=pattern,
            name=name,
            package=package,
            force=force,
            dry_run=dry_run,
            as_json=format is Format.json,
        )
    )


@app.command()
def diff(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Only files under these paths.")
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="One line a file with its +/- counts.")
    ] = False,
) -> None:
    """Show what `otpgen update` would change, as unified diffs; write nothing.

    Your edits are merged in the diffs as update would merge them; conflicts show as the
    markers update would write. Coloured on a terminal unless NO_COLOR is set.
    Example: otpgen diff --summary
    """
    from otpgen import _commands

    _typer_exit(lambda: _commands.diff(paths=paths or [], summary=summary))


@app.command()
def check(
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Fail (exit 1) when generated files are behind their templates or hold conflict markers.

    Cheap enough for a pre-commit hook or CI. Your own edits are not a failure.
    Example: otpgen check
    """
    from otpgen import _commands

    _typer_exit(lambda: _commands.check(as_json=format is Format.json))


def _flag(key: str) -> Any:
    from otpgen._advise import QUESTIONS

    return typer.Option(f"--{key}/--no-{key}", help=QUESTIONS[key].text)


@app.command()
def advise(
    one_off: Annotated[bool | None, _flag("one-off")] = None,
    state: Annotated[bool | None, _flag("state")] = None,
    per_key: Annotated[bool | None, _flag("per-key")] = None,
    read_mostly: Annotated[bool | None, _flag("read-mostly")] = None,
    rate_limit: Annotated[bool | None, _flag("rate-limit")] = None,
    pool: Annotated[bool | None, _flag("pool")] = None,
    broadcast: Annotated[bool | None, _flag("broadcast")] = None,
    get_update_only: Annotated[bool | None, _flag("get-update-only")] = None,
    name: Annotated[
        str | None, typer.Option(help="The module name to put in the suggested command.")
    ] = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
) -> None:
    """Do you even need a process? Walk the OTP decision tree to a recommendation.

    Asks yes/no questions on a terminal; answer them ahead with flags instead.
    Example: otpgen advise --no-one-off --state --no-per-key --no-read-mostly
    """
    from otpgen._advise import MissingAnswer, Question, advise
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    given = {
        "one-off": one_off,
        "state": state,
        "per-key": per_key,
        "read-mostly": read_mostly,
        "rate-limit": rate_limit,
        "pool": pool,
        "broadcast": broadcast,
        "get-update-only": get_update_only,
    }
    answers = {key: value for key, value in given.items() if value is not None}

    def ask(question: Question) -> bool:
        return typer.confirm(question.text)

    interactive = format is Format.text and sys.stdin.isatty()
    try:
        advice, path = advise(answers, ask if interactive else None)
    except MissingAnswer as missing:
        _fail(
            f"{missing.question.text} Answer it with --{missing.question.key} or "
            f"--no-{missing.question.key} (no terminal to ask on)"
        )
    available = _engine(lambda: load_patterns(templates_dir()))
    command = None
    if advice.pattern is not None and advice.pattern in available:
        command = f"otpgen new {advice.pattern}" + (f" {name}" if name else "")
    if format is Format.json:
        _print_json(
            {
                "pattern": advice.pattern,
                "reason": advice.reason,
                "command": command,
                "answers": {question.key: answer for question, answer in path},
            }
        )
        return
    if advice.pattern is None:
        typer.echo(f"use plain functions: {advice.reason}")
        return
    typer.echo(f"use {advice.pattern}: {advice.reason}")
    if command is None:
        typer.echo(f"the {advice.pattern} pattern is not in this otpgen release yet")
    else:
        typer.echo(f"run: {command}")


class Sort(StrEnum):
    """What `observe --sort` orders by."""

    mailbox = "mailbox"
    handler_time = "handler_time"
    restarts = "restarts"
    name = "name"


INTERVAL_MIN = 0.1


def _finite_interval(value: float) -> float:
    """Refuse `--interval nan` and `inf`, which the range check lets through (no NaN is
    below 0.1): NaN would poll with no delay at all, writing megabytes a second."""
    import math

    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number in the range x>={INTERVAL_MIN}.")
    return value


@app.command()
def observe(
    url: Annotated[
        str,
        typer.Argument(
            help="The service's base URL (e.g. http://127.0.0.1:8000) or its full "
            "/observer/api/tree URL."
        ),
    ],
    interval: Annotated[
        float,
        typer.Option(
            min=INTERVAL_MIN,
            callback=_finite_interval,
            help="Seconds between two polls (without --once).",
        ),
    ] = 1.0,
    sort: Annotated[
        Sort | None,
        typer.Option(
            help="Order siblings (the tree is kept) by it: the busiest first, names A to Z; "
            "with --flat, the whole list."
        ),
    ] = None,
    flat: Annotated[
        bool, typer.Option("--flat", help="One list instead of the tree (see --sort).")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Print one snapshot and exit (for scripts).")
    ] = False,
    format: Annotated[
        Format, typer.Option("--format", help="text or json (json with --once).")
    ] = Format.text,
    limit: Annotated[
        str,
        typer.Option(
            "--limit",
            metavar="N|all",
            help="Children of each supervisor to show, those that need attention first "
            "(restarting, backlogged, restarted); the others are one summary row. "
            "'all' shows every process.",
        ),
    ] = "200",
) -> None:
    """Watch a running service's supervision tree: per process its status, restarts, mailbox,
    time in callbacks and memory; restarting and backlogged processes highlighted.

    Polls the observer JSON the service's web child serves. Live on a terminal: `q` quits,
    Ctrl-C exits 130; while the service is unreachable the view says so and keeps polling.
    Exit status: 0 done, 1 the service unreachable (--once) or not answering an observer
    tree, 2 a bad URL.
    Example: otpgen observe http://127.0.0.1:8000 --sort mailbox
    """
    from otpgen import _observe

    try:
        code = _observe.run(
            url,
            interval=interval,
            sort=sort.value if sort is not None else None,
            flat=flat,
            once_only=once,
            json_output=format is Format.json,
            limit=limit,
        )
    except _observe.ObserveError as error:
        _fail(str(error), error.code)
    if code:
        raise typer.Exit(code)


cache_app = typer.Typer(
    help="otpgen's cache of compiled templates and formatted renders: where it is, its "
    "size, and emptying it. Everything in it is rebuilt on demand.",
    invoke_without_command=True,
)
app.add_typer(cache_app, name="cache")


@cache_app.callback()
def cache_help(ctx: typer.Context) -> None:
    """Without a command, the help."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def _size(count: int, size: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}, {size / 1024 / 1024:.1f} MB"


@cache_app.command("info")
def cache_info() -> None:
    """Print where the cache is, what it holds and its size bound.

    Example: otpgen cache info
    """
    from otpgen import _cache

    root = _cache.cache_dir()
    if root is None:
        typer.echo("caching is off (OTPGEN_NO_CACHE is set)")
        return
    bound = _cache.max_bytes() / 1024 / 1024
    typer.echo(f"{root}: {_size(*_cache.usage())} (bound: {bound:g} MB, OTPGEN_CACHE_MAX_MB)")


@cache_app.command("clear")
def cache_clear() -> None:
    """Empty the cache; the next commands rebuild what they need (a little slower once).

    Example: otpgen cache clear
    """
    from otpgen import _cache

    if _cache.cache_dir() is None:
        typer.echo("caching is off (OTPGEN_NO_CACHE is set): nothing to clear")
        return
    typer.echo(f"removed {_size(*_cache.clear())}")


def main() -> NoReturn:
    """Run the ``otpgen`` command line as the console script does (see `otpgen._entry`)."""
    from otpgen._entry import main as run

    run()

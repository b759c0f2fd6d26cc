"""The bounds of the patterns' options: a value past an option's `max`, a port past 65535
or a host that is not a host name or an IP address is refused in one line (exit 2,
nothing written), so `otpgen new` never renders code that overflows, never ends its tests
or cannot start."""

import json
from pathlib import Path

import pytest
from clikit import otpgen, shop_project

from otpgen._errors import OtpgenError
from otpgen._patterns import Option, load_pattern, load_patterns
from otpgen._templates import templates_dir


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def option(pattern: str, key: str) -> Option:
    return load_pattern(templates_dir(), pattern).option(key)


# What the adversarial renders were: each loops, overflows or opens sockets past reason.
REFUSED = [
    ("rate-limiter", ["algorithm=token-bucket", "backend=redis", "period=1e303"], "period"),
    ("task", ["backend=postgres", "timeout=1e308"], "timeout"),
    ("supervisor", ["max_restarts=100000"], "max_restarts"),
    ("supervisor", [f"max_restarts={10**26}"], "max_restarts"),
    ("cache", ["max_size=30000000"], "max_size"),
    ("connection-pool", ["min_size=20000", "max_size=20000"], "min_size"),
    ("task", ["max_concurrency=100000"], "max_concurrency"),
    ("web", ["port=70000"], "port"),
]


@pytest.mark.parametrize(("pattern", "settings", "key"), REFUSED)
def test_new_refuses_a_value_past_the_options_max_and_writes_nothing(
    tmp_path: Path, pattern: str, settings: list[str], key: str
) -> None:
    project = shop_project(tmp_path)
    before = files(project)
    sets = [arg for setting in settings for arg in ("--set", setting)]
    result = otpgen("new", pattern, "thing", "--no-input", *sets, cwd=project)
    assert result.returncode == 2
    bound = option(pattern, key).max
    assert bound is not None
    assert result.stderr.startswith(f"error: expected {key} to be <= {int(bound)}, got: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert files(project) == before


def test_every_numeric_option_has_a_max_named_in_its_help() -> None:
    for pattern in load_patterns(templates_dir()).values():
        for found in pattern.options:
            if found.type in ("int", "float"):
                assert found.max is not None, f"{pattern.name} {found.key} has no max"
                shown = (f"{int(found.max):,}", str(int(found.max)))
                assert any(s in found.help for s in shown), f"{pattern.name} {found.key}"


def test_an_options_max_is_accepted_and_shown() -> None:
    restarts = option("supervisor", "max_restarts")
    assert restarts.parse("10000") == 10000
    assert restarts.describe_type() == "int in 0..10000"
    with pytest.raises(OtpgenError, match=r"^expected max_restarts to be <= 10000, got: '10001'$"):
        restarts.parse("10001")


@pytest.mark.parametrize("port", ["0", "8000", "65535"])
def test_web_accepts_every_port_its_module_reads_from_otp_web_port(port: str) -> None:
    assert option("web", "port").parse(port) == int(port)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "0.0.0.0",
        "localhost",
        "::1",
        "::",
        "fe80::1",
        "2001:db8::8a2e:370:7334",
        "ip-10-0-0-12.eu-west-1.compute.internal",
        "a" * 63,
    ],
)
def test_web_accepts_a_host_name_an_ipv4_or_an_ipv6_address(host: str) -> None:
    assert option("web", "host").parse(host) == host


@pytest.mark.parametrize(
    "host", ["-", "--", "...", ":::", "a-", "-a", "a..b", "a.b.", "1.2.3", "256.1.1.1", "a" * 64]
)
def test_web_refuses_a_host_that_is_no_name_or_address(tmp_path: Path, host: str) -> None:
    project = shop_project(tmp_path)
    before = files(project)
    result = otpgen("new", "web", "frontend", "--no-input", "--set", f"host={host}", cwd=project)
    assert result.returncode == 2
    assert result.stderr == (
        "error: expected host to be a host name or an IP address (IPv4 or IPv6), at most 63 "
        f"characters, got: {host!r}\n"
    )
    assert files(project) == before


def test_update_renders_again_an_answer_recorded_before_its_max_existed(tmp_path: Path) -> None:
    project = shop_project(tmp_path)
    made = otpgen("new", "supervisor", "tree", "--no-input", "--no-wire", cwd=project)
    assert made.returncode == 0, made.stderr
    # An answer past today's max, as a project made before the bound records it.
    where = project / ".otpgen" / "manifest.json"
    manifest = json.loads(where.read_text())
    manifest["renders"]["supervisor:tree"]["answers"]["max_restarts"] = 100000
    where.write_text(json.dumps(manifest, indent=2))
    result = otpgen("update", cwd=project)
    assert result.returncode == 0, result.stderr
    module = next(project.rglob("tree.py")).read_text()
    assert "max_restarts: ClassVar[int] = 100000" in module

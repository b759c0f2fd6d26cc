"""`[[checks]]` in pattern.toml: relations between two numeric options, read from a fixed
table of comparisons (never evaluated), enforced by `Pattern.resolve`."""

from pathlib import Path

import pytest

from otpgen._errors import OtpgenError
from otpgen._patterns import Pattern, load_pattern, load_patterns
from otpgen._templates import templates_dir

HEAD = """\
version = 1
summary = "A pool."
use_when = "testing checks"
dont_use_when = "anywhere else"

[options.low]
type = "int"
default = 1
min = 0
help = "The low one."

[options.high]
type = "int"
default = 10
min = 1
help = "The high one."

[options.wait]
type = "float"
default = 2.0
help = "A float."

[options.mode]
type = "choice"
choices = ["a", "b"]
default = "a"
help = "Not a number."
"""


def pattern_with(tmp_path: Path, *rules: str) -> Pattern:
    directory = tmp_path / "patterns" / "pool"
    directory.mkdir(parents=True, exist_ok=True)
    checks = "".join(f'\n[[checks]]\nrule = "{rule}"\nwhy = "it must"\n' for rule in rules)
    (directory / "pattern.toml").write_text(HEAD + checks)
    return load_pattern(tmp_path, "pool")


def refusal(pattern: Pattern, **settings: str) -> str:
    with pytest.raises(OtpgenError) as caught:
        pattern.resolve(settings)
    return str(caught.value)


def test_a_check_refuses_values_that_break_it_naming_both_options_and_the_fix(
    tmp_path: Path,
) -> None:
    pattern = pattern_with(tmp_path, "low <= high")
    assert refusal(pattern, low="20") == (
        "pool needs low <= high (it must); got low=20 and high=10 (its default): "
        "pass --set low=10 or less, or --set high=20 or more"
    )
    assert pattern.resolve({"low": "10"})["low"] == 10  # equal is fine
    assert pattern.resolve({"low": "20", "high": "20"}) == {
        "low": 20,
        "high": 20,
        "wait": 2.0,
        "mode": "a",
    }


@pytest.mark.parametrize(
    ("rule", "settings", "fix"),
    [
        ("low < high", {"low": "10"}, "pass --set low=9 or less, or --set high=11 or more"),
        ("high > low", {"low": "10"}, "pass --set low=9 or less, or --set high=11 or more"),
        ("high >= low", {"high": "5", "low": "7"}, "--set low=5 or less, or --set high=7 or more"),
        ("wait < high", {"wait": "10.5"}, "pass --set wait below 10, or --set high above 10.5"),
        ("low <= wait", {"low": "3"}, "pass --set low=2 or less, or --set wait=3 or more"),
    ],
)
def test_every_comparison_names_the_way_out(
    tmp_path: Path, rule: str, settings: dict[str, str], fix: str
) -> None:
    message = refusal(pattern_with(tmp_path, rule), **settings)
    assert f"pool needs {rule} (it must)" in message
    assert message.endswith(fix)
    assert "\n" not in message


@pytest.mark.parametrize(
    "rule",
    [
        "low<=high",  # no spaces: one word
        "low <= high <= 20",
        "low == high",  # not a comparison of the table
        "low <= 20",  # a literal: a bound is an option's `min`
        "low <= mode",  # not a number
        "low <= nope",
        "low <= low",
        "__import__('os').system('true') or low <= high",
    ],
)
def test_a_rule_outside_the_form_is_an_invalid_pattern(tmp_path: Path, rule: str) -> None:
    with pytest.raises(OtpgenError, match=r"pattern\.toml: check .*expected `<option> <operator>"):
        pattern_with(tmp_path, rule)


def test_defaults_that_break_a_check_are_an_invalid_pattern(tmp_path: Path) -> None:
    with pytest.raises(OtpgenError, match="the defaults break check 'high <= low'"):
        pattern_with(tmp_path, "high <= low")


def test_a_check_without_its_reason_is_an_invalid_pattern(tmp_path: Path) -> None:
    directory = tmp_path / "patterns" / "pool"
    directory.mkdir(parents=True)
    (directory / "pattern.toml").write_text(HEAD + '[[checks]]\nrule = "low <= high"\n')
    with pytest.raises(OtpgenError, match="not a valid pattern: missing key 'why'"):
        load_pattern(tmp_path, "pool")


def test_verify_skips_checks_whose_options_are_not_known_yet(tmp_path: Path) -> None:
    pattern = pattern_with(tmp_path, "low <= high")
    pattern.verify({"low": 99}, {"low"})  # high not answered yet: nothing to compare
    with pytest.raises(OtpgenError, match="got low=99 and high=5"):
        pattern.verify({"low": 99, "high": 5}, {"low", "high"})


def test_the_connection_pool_declares_min_size_at_most_max_size() -> None:
    pool = load_patterns(templates_dir())["connection-pool"]
    assert [c.rule for c in pool.checks] == ["min_size <= max_size"]
    assert [c.rule for c in pool.checks_of("max_size")] == ["min_size <= max_size"]
    assert pool.checks_of("checkout_timeout") == ()


STR_OPTION = """
[options.host]
type = "str"
default = "127.0.0.1"
help = "Where."
"""


def pattern_with_option(tmp_path: Path, extra: str) -> Pattern:
    directory = tmp_path / "patterns" / "pool"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pattern.toml").write_text(HEAD + STR_OPTION + extra)
    return load_pattern(tmp_path, "pool")


@pytest.mark.parametrize("value", ['a"b', "x y", "x\\n", "127.0.0.1'", "{{ x }}"])
def test_a_str_option_with_a_match_refuses_other_text_in_words(tmp_path: Path, value: str) -> None:
    pattern = pattern_with_option(
        tmp_path, "match = '[A-Za-z0-9.:-]+'\nmatch_help = \"a host name or an IP address\"\n"
    )
    assert refusal(pattern, host=value) == (
        f"expected host to be a host name or an IP address, got: {value!r}"
    )
    assert pattern.resolve({"host": "::1"})["host"] == "::1"


@pytest.mark.parametrize(
    "extra",
    [
        "match = '[a-z'\nmatch_help = \"letters\"\n",  # not a regular expression
        "match = '[a-z]+'\n",  # no words for the error
    ],
)
def test_a_bad_match_is_an_invalid_pattern(tmp_path: Path, extra: str) -> None:
    with pytest.raises(OtpgenError, match="option host"):
        pattern_with_option(tmp_path, extra)


def test_the_web_host_option_takes_only_host_names_and_addresses() -> None:
    web = load_patterns(templates_dir())["web"]
    for good in ("127.0.0.1", "0.0.0.0", "::1", "api.internal", "my-host"):
        assert web.resolve({"host": good})["host"] == good
    for bad in ('a"b', "a b", "a\\b", "h'"):
        with pytest.raises(OtpgenError, match="host name or an IP address"):
            web.resolve({"host": bad})

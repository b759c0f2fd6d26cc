"""Every test run gets its own otpgen cache, so no test reads what another machine wrote;
the tests that need a Redis or PostgreSQL server get theirs from `servers`."""

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ("servers",)


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("OTPGEN_CACHE_DIR")
    os.environ["OTPGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("otpgen-cache"))
    yield
    if previous is None:
        del os.environ["OTPGEN_CACHE_DIR"]
    else:
        os.environ["OTPGEN_CACHE_DIR"] = previous


# Under CI every property test draws the same examples, run after run: a failure there is
# a real one, reproducible from the log. Locally, hypothesis keeps exploring.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")

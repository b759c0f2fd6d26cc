"""Every test run gets its own otpgen cache, so no test reads what another machine wrote."""

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("OTPGEN_CACHE_DIR")
    os.environ["OTPGEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("otpgen-cache"))
    yield
    if previous is None:
        del os.environ["OTPGEN_CACHE_DIR"]
    else:
        os.environ["OTPGEN_CACHE_DIR"] = previous

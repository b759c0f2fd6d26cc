"""Helpers for tests that drive the installed `otpgen` console script."""

import shutil
import subprocess
from pathlib import Path


def otpgen_exe() -> str:
    """The installed console script."""
    exe = shutil.which("otpgen")
    assert exe is not None, "the otpgen console script is not installed: run `pip install .`"
    return exe


def otpgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `otpgen ARGS` and capture what it prints."""
    return subprocess.run(
        [otpgen_exe(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def shop_project(root: Path) -> Path:
    """A minimal src-layout project with the package `shop`, at `root`."""
    (root / "src" / "shop").mkdir(parents=True)
    (root / "src" / "shop" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    return root

"""The web child end to end: `otpgen init --web` and `otpgen new web` write and wire it, and
the service it makes runs as a real OS process, answering its probes over HTTP, drawing its
tree in a real browser (Debian's chromium, driven by selenium), and stopping the web child
first on SIGTERM."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from otpgen._wire import Wiring, wire
from tests.clikit import otpgen

# A worker the tests add to the service: SIGUSR1 makes it crash (its supervisor restarts it).
FLAKY = '''\
"""A worker that crashes when the OS process receives SIGUSR1."""

import asyncio
import signal

from shop import otp


class Flaky(otp.GenServer):
    async def init(self) -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.cast, "crash")

    async def handle_cast(self, msg: object) -> None:
        raise RuntimeError(f"asked to crash: {msg!r}")
'''


# A DynamicSupervisor with more children than the observer page is asked to show.
POOL = '''\
"""A DynamicSupervisor started with six idle workers."""

from shop import otp


class Idle(otp.GenServer):
    """Waits."""


async def start_pool() -> otp.DynamicSupervisor:
    pool = await otp.DynamicSupervisor.start(name="pool")
    for _ in range(6):
        await pool.start_child(Idle.child_spec())
    return pool
'''


def web_service(base: Path) -> Path:
    """`otpgen init shop --web`, then a genserver, the Flaky worker and a pool of six
    wired in: a service whose tree is inventory, flaky, pool, web (web kept last)."""
    result = otpgen("init", "shop", "--no-input", "--web", cwd=base)
    assert result.returncode == 0, result.stderr
    root = base / "shop"
    result = otpgen("new", "genserver", "inventory", "--no-input", cwd=root)
    assert result.returncode == 0, result.stderr
    (root / "src/shop/flaky.py").write_text(FLAKY)
    (root / "src/shop/pool.py").write_text(POOL)
    application = root / "src/shop/application.py"
    for spec in (
        Wiring(
            ("from shop.flaky import Flaky",),
            'otp.ChildSpec("flaky", Flaky.start)',
            ("Web.child_spec()",),
        ),
        Wiring(
            ("from shop.pool import start_pool",),
            'otp.ChildSpec("pool", start_pool, type=otp.SUPERVISOR)',
            ("Web.child_spec()",),
        ),
    ):
        application.write_text(wire(application.read_text(), spec))
    return root


class Service:
    """`python -m shop` as an OS process, its web child on a free port."""

    def __init__(self, root: Path, *, level: str = "INFO") -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(root / "src"),
            "OTP_WEB_PORT": "0",
            "OTP_LOG_LEVEL": level,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shop"], cwd=root, env=env, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.deadline = threading.Timer(60, self.process.kill)  # a hang fails, never blocks
        self.deadline.start()
        url = None
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if found := re.search(r"serving on (http://\S+)", line):
                url = found.group(1)
            if "ready" in line:
                break
        assert url is not None, "".join(self.lines)
        self.url = url

    def get(self, path: str) -> tuple[int, dict[str, object]]:
        """GET `path`: (status, the JSON body)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> tuple[int, float]:
        """SIGTERM, then wait: (exit status, seconds it took); the rest of stderr is read."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        assert self.process.stderr is not None
        self.lines += self.process.stderr.readlines()
        status = self.process.wait(timeout=30)
        return status, time.monotonic() - started

    def close(self) -> None:
        self.deadline.cancel()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def service_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return web_service(tmp_path_factory.mktemp("web"))


@pytest.fixture
def service(service_root: Path) -> Iterator[Service]:
    running = Service(service_root, level="DEBUG")
    try:
        yield running
    finally:
        running.close()


def children_of(root: Path) -> list[str]:
    text = (root / "src/shop/application.py").read_text()
    body = text.split("def children()", 1)[1].split("return [", 1)[1].split("\n    ]", 1)[0]
    return re.findall(r"^\s+(\S.*),$", body, re.MULTILINE)


def test_init_web_wires_the_web_child_and_adds_its_dependencies(tmp_path: Path) -> None:
    result = otpgen("init", "shop", "--no-input", "--web", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    assert children_of(root) == ["Web.child_spec()"]
    pyproject = (root / "pyproject.toml").read_text()
    assert 'dependencies = ["starlette>=0.40", "uvicorn>=0.30", "prometheus-client>=0.20"]' in (
        pyproject
    )
    manifest = json.loads((root / ".otpgen/manifest.json").read_text())
    assert manifest["renders"]["web:web"]["template"] == "web"
    assert (root / "src/shop/web.py").is_file()
    assert (root / "tests/test_web.py").is_file()
    check = otpgen("check", cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr


def test_init_web_writes_what_init_then_new_web_writes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert otpgen("init", "shop", "--no-input", "--web", cwd=tmp_path / "a").returncode == 0
    assert otpgen("init", "shop", "--no-input", cwd=tmp_path / "b").returncode == 0
    assert otpgen("new", "web", "--no-input", cwd=tmp_path / "b/shop").returncode == 0
    for path in ("src/shop/application.py", "src/shop/web.py", "pyproject.toml"):
        assert (tmp_path / "a/shop" / path).read_text() == (tmp_path / "b/shop" / path).read_text()


def test_modules_added_after_web_are_wired_before_it(tmp_path: Path) -> None:
    assert otpgen("init", "shop", "--no-input", "--web", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    for name in ("inventory", "orders"):
        assert otpgen("new", "genserver", name, "--no-input", cwd=root).returncode == 0
    assert children_of(root) == [
        "Inventory.child_spec()",
        "Orders.child_spec()",
        "Web.child_spec()",
    ]
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--extend-exclude", "src/shop/otp", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout


def test_a_one_line_list_ending_with_web_gets_the_new_child_before_it() -> None:
    text = "def children() -> list[int]:\n    return [a(), Web.child_spec()]\n"
    wired = wire(text, Wiring((), "b()", ("Web.child_spec()",)))
    assert wired == (
        "def children() -> list[int]:\n    return [\n        a(),\n        b(),\n"
        "        Web.child_spec(),\n    ]\n"
    )


def test_a_list_where_web_is_not_last_any_more_gets_the_child_appended() -> None:
    # The user moved web: their order stands; only a list that ends with it keeps it last.
    text = (
        "def children() -> list[int]:\n"
        "    return [\n        Web.child_spec(),\n        a(),\n    ]\n"
    )
    wired = wire(text, Wiring((), "b()", ("Web.child_spec()",)))
    assert wired.endswith("        a(),\n        b(),\n    ]\n")


def test_show_web_lists_the_dependencies_every_render_adds() -> None:
    result = otpgen("show", "web")
    assert result.returncode == 0, result.stderr
    assert "dependencies (always added): starlette>=0.40, uvicorn>=0.30" in result.stdout
    assert "metrics=True adds to your dependencies: prometheus-client>=0.20" in result.stdout


def test_the_service_answers_its_probes_and_stops_web_first_on_sigterm(service: Service) -> None:
    assert service.get("/healthz") == (200, {"status": "ok"})
    assert service.get("/readyz") == (200, {"status": "ready"})

    status, took = service.stop()

    assert status == 0, "".join(service.lines)
    stopping = [
        found.group(1)
        for line in service.lines
        if (found := re.search(r"stopping child '([\w.]+)'", line))
    ]
    assert stopping == ["shop.web", "pool", "flaky", "shop.inventory"], "".join(service.lines)
    assert took < 5.0 + 5.0, f"took {took:.2f} s, over the web child's budget and a margin"
    with pytest.raises(urllib.error.URLError):
        service.get("/healthz")


# The row of a process (the first cell ends with its name): "class|restarts", or "".
ROW = """
for (const tr of document.querySelectorAll("#rows tr")) {
  const cells = tr.cells;
  if (cells.length > 4 && cells[0].textContent.trim().endsWith(arguments[0])) {
    return tr.className + "|" + cells[4].textContent;
  }
}
return "";
"""


# The summary row of the children a limit left out: "class|text", or "".
SUMMARY = """
const tr = document.querySelector("#rows tr.summary");
return tr ? tr.className + "|" + tr.cells[0].textContent.trim() : "";
"""


def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def need_chromium() -> tuple[str, str]:
    """Debian's chromium and chromedriver; skip without them, fail under CI=true."""
    found = chromium()
    if found is None:
        message = (
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true: the browser test may not skip")
        pytest.skip(message)
    return found


def test_the_observer_page_draws_the_tree_and_shows_a_restart_without_reloading(
    service: Service,
) -> None:
    browser, driver_path = need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as Driver
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,700")
    driver = webdriver.Chrome(options=options, service=Driver(driver_path))
    try:
        driver.get(service.url + "/observer/")
        wait = WebDriverWait(driver, 20, poll_frequency=0.1)

        def row(child: str) -> str:
            """`class|restarts` of the row of `child`, read in one step (the page
            replaces its rows every second)."""
            found = driver.execute_script(ROW, child)
            return found if isinstance(found, str) else ""

        wait.until(lambda _: row("inventory") and row("flaky") and row("web"))
        assert row("flaky").endswith("|0")
        driver.execute_script("window.notReloaded = true;")
        driver.save_screenshot("/tmp/otpgen-observer-before.png")

        service.process.send_signal(signal.SIGUSR1)

        wait.until(lambda _: row("flaky").endswith("|1"))
        assert "restarted" in row("flaky")
        assert driver.execute_script("return window.notReloaded === true;")
        driver.save_screenshot("/tmp/otpgen-observer-after.png")

        # Four children of each supervisor: the pool's other two are one summary row.
        driver.get(service.url + "/observer/?limit=4")
        wait.until(lambda _: driver.execute_script(SUMMARY))
        found = driver.execute_script(SUMMARY)
        assert found == "more summary|+ 2 more: 0 messages waiting in 0, 0 restarting", found
        assert row("web")
        assert row("pool")
        driver.save_screenshot("/tmp/otpgen-observer-summary.png")
    finally:
        driver.quit()

"""Browser-test support: a real Streamlit server and the system Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``scripts/setup.sh``),
never a downloaded one. Screenshots go to ``tests/artifacts/<test name>/`` (git-ignored) so a
person can look at them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("SURVEY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    """A ``streamlit run survey_app.py`` process on loopback with its own data folder."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "streamlit.log"
        environ = {
            **os.environ,
            "SURVEY_DATA_DIR": str(data_dir),
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "survey_app.py"),
                "--server.headless=true",
                "--server.address=127.0.0.1",
                f"--server.port={self.port}",
                "--server.fileWatcherType=none",
                "--browser.gatherUsageStats=false",
            ],
            cwd=ROOT,
            env=environ,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:  # noqa: S310
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


@pytest.fixture
def app_server_factory(tmp_path: Path) -> Iterator[Callable[..., AppServer]]:
    """Start app servers on demand (``factory(data_dir=None, env=None)``); all stop at the end."""
    servers: list[AppServer] = []

    def start(data_dir: Path | None = None, env: dict[str, str] | None = None) -> AppServer:
        server = AppServer(data_dir or tmp_path / f"data{len(servers)}", env=env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The system Chromium, headless, through Playwright."""
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: install Debian's chromium (./test.sh does) or set "
        "SURVEY_TEST_CHROMIUM"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """A folder for this test's screenshots: ``tests/artifacts/<test name>/``."""
    name = request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    folder = ARTIFACTS / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder

"""The verify page (``GET /`` of ``aiwatermark serve``) in a real browser, against the real server.

One headless Chromium session (Debian's ``chromium`` driven through its ``chromedriver``;
Selenium Manager never downloads anything) uploads a marked-then-shared image, an unmarked
photo and a file that is not an image, and checks what the page tells a reviewer.

Screenshots go to ``$AIWATERMARK_SCREENSHOTS`` (else the test's tmp folder); with
``AIWATERMARK_UPDATE_DOC_SCREENSHOTS=1`` they are also written to ``docs/images/``.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

import aiwatermark
from aiwatermark._demo import share_like_a_platform
from aiwatermark.store import open_store
from consents import register_jane

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
DOC_IMAGES = ROOT / "docs" / "images"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "sudo apt-get install chromium chromium-driver"
VIEWPORT = (1280, 900)
CONSENT_FROM, CONSENT_UNTIL = dt.date(2025, 1, 1), dt.date(2030, 12, 31)
SERVER_START_SECONDS = 60
UPLOAD_SECONDS = 60


def _unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine, fail in CI, where the browser is part of the setup."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: {INSTALL})")
    pytest.skip(f"{reason}; install it with: {INSTALL}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def webdriver_modules() -> Any:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        _unavailable(f"{' and '.join(missing)} not found")
    try:
        from selenium import webdriver
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    return webdriver


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private AIWATERMARK_HOME (development identity) for this module and its server."""
    folder = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIWATERMARK_HOME", str(folder))
        patch.delenv("AIWATERMARK_KEY", raising=False)
        yield folder


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store") / "manifests.sqlite3"


@dataclass(frozen=True)
class Server:
    """A running ``aiwatermark serve`` process and where it listens."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until_up(self) -> None:
        """Return once ``GET /`` answers 200; fail with the server's output if it never does."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                pytest.fail(
                    f"aiwatermark serve exited with {self.process.returncode}:\n"
                    + self.log.read_text(errors="replace")
                )
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"aiwatermark serve did not answer GET / within {SERVER_START_SECONDS} s:\n"
                    + self.log.read_text(errors="replace")
                )
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(
    webdriver_modules: Any, home: Path, store_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``aiwatermark serve`` on a free local port, starting (the browser starts meanwhile)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    command = [sys.executable, "-m", "aiwatermark", "serve", "--store", str(store_path)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AIWATERMARK_HOME": str(home)},
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser(webdriver_modules: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium session for every upload in this module."""
    webdriver = webdriver_modules
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        # Size the viewport itself (not the window frame) to exactly 1280×900.
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if tuple(inner) != VIEWPORT:
            size = driver.get_window_size()
            driver.set_window_size(
                size["width"] + VIEWPORT[0] - inner[0], size["height"] + VIEWPORT[1] - inner[1]
            )
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(server: Server, browser: Any) -> Any:
    """The verify page, loaded from the server."""
    server.wait_until_up()
    browser.get(server.url + "/")
    return browser


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("AIWATERMARK_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def shared_marked(home: Path, store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Astronaut marked with a likeness record, registered in the store, then 'shared'."""
    folder = tmp_path_factory.mktemp("images")
    use = register_jane(
        open_store(str(store_path)).consents,
        consent_ref="contract-2026-017",
        valid_from=CONSENT_FROM.isoformat(),
        valid_until=CONSENT_UNTIL.isoformat(),
    )
    marked = folder / "marked.jpg"
    result = aiwatermark.mark(
        FIXTURES / "astronaut.jpg",
        marked,
        store=str(store_path),
        generator="Page Test Gen",
        likeness=use,
    )
    shared = folder / "astronaut-shared.jpg"
    shared.write_bytes(share_like_a_platform(marked.read_bytes()))
    return shared, result.content_id


def _upload(driver: Any, path: Path) -> str:
    """Choose ``path`` in the page's file input; wait for the answer; return ``data-state``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(path))

    def answered(d: Any) -> str | None:
        state = d.find_element(By.ID, "main").get_attribute("data-state")
        kicker = d.find_element(By.ID, "verdict-kicker").text
        if state == "error" or (state == "done" and path.name.lower() in kicker.lower()):
            return str(state)
        return None

    state: str = WebDriverWait(driver, UPLOAD_SECONDS, poll_frequency=0.05).until(answered)
    if state == "done":  # the label rectangle is placed once the preview has loaded
        WebDriverWait(driver, 10, poll_frequency=0.05).until(
            lambda d: d.execute_script(
                "const img = document.getElementById('preview-img');"
                "return img.complete && img.naturalWidth > 0"
            )
        )
    driver.execute_script("window.scrollTo(0, 0)")
    return state


def _save(driver: Any, screenshots: Path, name: str) -> None:
    png = driver.get_screenshot_as_png()
    (screenshots / name).write_bytes(png)
    if os.environ.get("AIWATERMARK_UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / name).write_bytes(png)


def _text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def _shown(driver: Any, element_id: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_element(By.ID, element_id).is_displayed())


def test_marked_then_shared_image(page: Any, shared_marked: Any, screenshots: Path) -> None:
    from selenium.webdriver.common.by import By

    path, content_id = shared_marked
    assert _upload(page, path) == "done", _text(page, "verdict")
    _save(page, screenshots, "verify-page-marked.png")

    assert _text(page, "verdict-headline") == "AI-generated"
    assert page.find_element(By.ID, "main").get_attribute("data-verdict") == "ai"
    lines = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#evidence .evidence-line")]
    assert any("recovered from the manifest store via the watermark" in x for x in lines), lines
    assert any("generator Page Test Gen" in x for x in lines), lines
    assert any(f"Content ID {content_id} detected" in x for x in lines), lines
    assert any("Visible AI label found (bottom-right" in x for x in lines), lines

    # The development identity signed it: the page says so, prominently.
    assert "signer not trusted" in _text(page, "warnings").lower()
    signer = _text(page, "signer")
    assert "aiwatermark development" in signer and "No:" in signer
    assert "NOT trusted" in _text(page, "verdict-facts")

    likeness = _text(page, "likeness")
    assert "Jane Doe" in likeness and "contract-2026-017" in likeness
    assert "advertising, social media" in likeness and f"until {CONSENT_UNTIL}" in likeness
    assert "Producer Studio — advertising, web, EU" in likeness
    assert "consented when made on" in likeness
    assert "generative training: not allowed" in likeness
    expired = dt.date.today() > CONSENT_UNTIL
    assert ("EXPIRED" if expired else "Valid today") in likeness
    state = "EXPIRED" if expired else "valid"
    assert f"Jane Doe ({state} until {CONSENT_UNTIL})" in _text(page, "verdict-facts")
    assert _text(page, "content-id") == content_id

    # The label's box, scaled onto the preview: inside it, in its bottom-right quarter.
    box = page.find_element(By.ID, "label-box")
    assert box.is_displayed() and "approximate" not in (box.get_attribute("class") or "")
    img = page.find_element(By.ID, "preview-img").rect
    left, top = img["x"], img["y"]
    right, bottom = left + img["width"], top + img["height"]
    rect = box.rect
    assert left + img["width"] / 2 < rect["x"] and rect["x"] + rect["width"] <= right + 4
    assert top + img["height"] / 2 < rect["y"] and rect["y"] + rect["height"] <= bottom + 4
    assert 0 < rect["width"] < img["width"] / 2 and 0 < rect["height"] < img["height"] / 4


def test_unmarked_photo(page: Any, screenshots: Path) -> None:
    assert _upload(page, FIXTURES / "coffee.png") == "done", _text(page, "verdict")
    _save(page, screenshots, "verify-page-unmarked.png")

    headline = _text(page, "verdict-headline")
    assert headline == "No AI disclosure found" and "authentic" not in headline.lower()
    assert "does not prove" in _text(page, "verdict-detail")
    evidence = _text(page, "evidence")
    assert "No aiwatermark watermark detected" in evidence
    assert "No visible AI label found" in evidence
    for hidden in ("label-box", "warnings-card", "likeness-card", "signer-card"):
        assert not _shown(page, hidden), hidden


def test_server_error_is_readable(page: Any, tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("these are meeting notes, not an image\n")
    assert _upload(page, not_an_image) == "error"
    assert _text(page, "verdict-headline") == "Could not check this image"
    message = _text(page, "verdict-detail")
    assert message and "{" not in message  # the server's words, not its JSON
    assert _text(page, "error-code").startswith("Error code: ")
    assert not _shown(page, "evidence-card")

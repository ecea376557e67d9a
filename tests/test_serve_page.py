"""The search page of `codesearch serve` in a real headless Chromium, driven over the DevTools protocol.

Debian's `chromium` package is needed (`apt-get install -y chromium`); without it these tests
fail and say so. One browser and one server serve the module; each test loads its own URL.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
import websocket

from codesearch.server import WEB
from conftest import REPO_FILES, write_repo
from test_serve_api import Server, run_cli, served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", "--window-size=1280,900",
)
TIMEOUT_S = 15.0
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "serve.png"
HOSTILE = {
    "web/banner.js": '''
        // Render the banner: <img src=x onerror="window.pwned = 1"> <b>bold</b>
        export function renderBanner(title) {
          return "<script>window.pwned = 2</script>" + title;
        }
        ''',
}
TOKEN = "page-test-token-0123456789"
KEYS = {
    "/": ("Slash", 191, "/"), "j": ("KeyJ", 74, "j"), "k": ("KeyK", 75, "k"), "s": ("KeyS", 83, "s"),
    "Enter": ("Enter", 13, "\r"), "Escape": ("Escape", 27, ""), "ArrowDown": ("ArrowDown", 40, ""), "ArrowUp": ("ArrowUp", 38, ""),
}


class Browser:
    """One page of a headless Chromium: commands go over its DevTools WebSocket and are answered in order."""

    def __init__(self, profile: Path) -> None:
        if not Path(CHROMIUM).is_file():
            pytest.fail(f"Chromium is not installed ({CHROMIUM} is missing): the page tests need it; run `apt-get install -y chromium`")
        self.process = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        port = self._port(profile / "DevToolsActivePort")
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT_S, trust_env=False).json()
        address = next(page["webSocketDebuggerUrl"] for page in pages if page["type"] == "page")
        self.socket = websocket.create_connection(address, timeout=TIMEOUT_S, suppress_origin=True)
        self.sent = 0

    def _port(self, active: Path) -> int:
        """The port Chromium chose, from the file it writes once it listens (bounded wait)."""
        deadline = time.monotonic() + TIMEOUT_S
        while not (active.is_file() and active.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"{CHROMIUM} did not start its DevTools endpoint within {TIMEOUT_S} s")
            time.sleep(0.05)
        return int(active.read_text().split()[0])

    def close(self) -> None:
        if hasattr(self, "socket"):
            self.socket.close()
        self.process.kill()
        self.process.wait()

    def send(self, method: str, **params: object) -> dict:
        self.sent += 1
        self.socket.send(json.dumps({"id": self.sent, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.sent:
                assert "error" not in message, message["error"]
                return message["result"]

    def evaluate(self, expression: str) -> object:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def wait_for(self, expression: str) -> object:
        """The value of `expression` once it is truthy (bounded wait)."""
        deadline = time.monotonic() + TIMEOUT_S
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"not within {TIMEOUT_S} s: {expression}"
            time.sleep(0.05)
        return value

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def type(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def press(self, key: str) -> None:
        code, number, text = KEYS[key]
        event = {"key": key, "code": code, "windowsVirtualKeyCode": number, "nativeVirtualKeyCode": number}
        self.send("Input.dispatchKeyEvent", type="keyDown", text=text, **event)
        self.send("Input.dispatchKeyEvent", type="keyUp", **event)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_repo(tmp_path_factory.mktemp("page") / "demo", REPO_FILES | HOSTILE)
    assert run_cli("index", root, "--quiet")[0] == 0
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    with served(root) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    opened = Browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(browser: Browser, server: Server) -> Callable[[str], Browser]:
    """Open a path of the served page in the browser, at a desktop size in light mode."""

    def load(path: str) -> Browser:
        browser.send("Emulation.clearDeviceMetricsOverride")
        browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
        browser.open(server.url + path)
        return browser

    return load


def hits(browser: Browser) -> list[dict]:
    """The results shown: each hit's `path:lines` and symbol."""
    script = "[...document.querySelectorAll('#results .hit')].map(h => ({where: h.querySelector('.where').textContent, symbol: h.querySelector('.symbol')?.textContent || ''}))"
    return browser.evaluate(script)  # type: ignore[return-value]


def wait_for_hits(browser: Browser) -> list[dict]:
    browser.wait_for("document.querySelectorAll('#results .hit').length > 0 && !document.getElementById('summary').textContent.startsWith('searching')")
    return hits(browser)


def search(page: Callable[[str], Browser], query: str) -> Browser:
    browser = page("/")
    browser.wait_for("document.activeElement === document.getElementById('q')")
    browser.type(query)
    wait_for_hits(browser)
    return browser


def test_typing_a_query_shows_its_results(page: Callable[[str], Browser]) -> None:
    browser = search(page, "parse a json document")
    assert hits(browser)[0] == {"where": "src/jsonutil.py:5-7", "symbol": "parse_json"}
    assert "def parse_json(text):" in browser.evaluate("document.querySelector('#results .hit .code').textContent")


def test_hit_code_has_line_numbers(page: Callable[[str], Browser]) -> None:
    browser = search(page, "parse a json document")
    assert browser.evaluate("[...document.querySelectorAll('#results .hit:first-child .num')].map(n => n.textContent)") == ["5", "6", "7"]


def test_the_url_carries_the_query(page: Callable[[str], Browser]) -> None:
    browser = search(page, "fibonacci number")
    assert browser.wait_for("new URLSearchParams(location.search).get('q')") == "fibonacci number"


def test_loading_a_url_with_a_query_shows_its_results(page: Callable[[str], Browser], server: Server) -> None:
    browser = page("/?" + urlencode({"q": "download a resource", "lang": "go"}))
    shown = wait_for_hits(browser)
    assert shown and all(hit["where"].startswith("net/fetch.go") for hit in shown)
    assert browser.evaluate("document.getElementById('lang').value") == "go"


def test_similar_from_a_hit(page: Callable[[str], Browser]) -> None:
    browser = search(page, "parse a json document")
    browser.evaluate("document.querySelector('#results .hit .similar').click()")
    browser.wait_for("new URLSearchParams(location.search).get('similar') === 'src/jsonutil.py'")
    browser.wait_for("document.getElementById('summary').textContent.includes('like src/jsonutil.py:5-7')")
    assert "src/jsonutil.py:5-7" not in [hit["where"] for hit in wait_for_hits(browser)]


def test_file_view_shows_the_lines_around_the_hit(page: Callable[[str], Browser], root: Path) -> None:
    browser = search(page, "parse a json document")
    browser.evaluate("document.querySelector('#results .hit .where').click()")
    browser.wait_for("location.pathname === '/file' && document.querySelectorAll('#file-code .row').length > 0")
    rows = browser.evaluate("[...document.querySelectorAll('#file-code .row')].map(r => r.textContent)")
    source = (root / "src/jsonutil.py").read_text().splitlines()
    assert rows == [f"{number}{line}" for number, line in enumerate(source, 1)]
    marked = browser.evaluate("[...document.querySelectorAll('#file-code .hit-line .num')].map(n => n.textContent)")
    assert marked == ["5", "6", "7"]


def test_keyboard_moves_the_selection_and_opens_the_file(page: Callable[[str], Browser]) -> None:
    browser = search(page, "json")
    selected = "document.querySelector('#results .hit.selected .where')?.textContent"
    first, second = (hit["where"] for hit in hits(browser)[:2])
    browser.press("ArrowDown")
    assert browser.evaluate(selected) == first
    browser.press("j")
    assert browser.evaluate(selected) == second
    browser.press("k")
    assert browser.evaluate(selected) == first
    browser.press("Enter")
    path = first.split(":")[0]
    browser.wait_for(f"location.pathname === '/file' && new URLSearchParams(location.search).get('path') === {json.dumps(path)}")


def test_slash_focuses_the_query_box(page: Callable[[str], Browser]) -> None:
    browser = search(page, "json")
    browser.press("ArrowDown")
    browser.press("/")
    assert browser.evaluate("document.activeElement.id") == "q"


def test_code_from_the_index_is_text_never_markup(page: Callable[[str], Browser]) -> None:
    browser = search(page, "render the banner")
    assert "<img src=x onerror=" in browser.evaluate("document.getElementById('results').textContent")
    assert browser.evaluate("document.querySelectorAll('#results img, #results script, #results b').length") == 0
    assert browser.evaluate("window.pwned === undefined")


def test_dark_mode_follows_the_system(page: Callable[[str], Browser]) -> None:
    browser = page("/")
    light = browser.evaluate("getComputedStyle(document.body).backgroundColor")
    browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "dark"}])
    assert browser.evaluate("getComputedStyle(document.body).backgroundColor") not in (light, "rgb(255, 255, 255)")


def test_fits_a_phone_screen(page: Callable[[str], Browser]) -> None:
    browser = page("/?" + urlencode({"q": "json"}))
    browser.send("Emulation.setDeviceMetricsOverride", width=375, height=740, deviceScaleFactor=2, mobile=True)
    wait_for_hits(browser)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 375


def test_asks_for_a_token_and_sends_it(browser: Browser, root: Path, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    with served(root, "--token-file", tokens) as guarded:
        browser.open(guarded.url + "/?" + urlencode({"q": "fibonacci"}))
        browser.wait_for("!document.getElementById('token-box').hidden && document.activeElement.id === 'token'")
        browser.type(TOKEN)
        browser.evaluate("document.getElementById('token-box').requestSubmit()")
        assert wait_for_hits(browser)[0]["symbol"] == "fibonacci"
        assert browser.evaluate("sessionStorage.getItem('codesearch.token')") == TOKEN


@pytest.mark.slow
def test_screenshot_of_the_results(page: Callable[[str], Browser]) -> None:
    browser = page("/?" + urlencode({"q": "parse a json document"}))
    browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1, mobile=False)
    wait_for_hits(browser)
    SCREENSHOT.write_bytes(browser.screenshot())
    width, height, pixels = _png(SCREENSHOT.read_bytes())
    assert (width, height) == (1280, 800)
    assert len(set(pixels)) > 16, "the screenshot is blank"


def _png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed pixel rows of a PNG (its filter bytes included)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,), kind = struct.unpack(">I", data[offset : offset + 4]), data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


@pytest.mark.slow
def test_wheel_ships_the_page(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("codesearch-*.whl"))
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("codesearch/web/")}
    assert shipped == {f"codesearch/web/{asset.name}" for asset in WEB.iterdir()}

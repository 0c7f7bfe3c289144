"""Headless Chromium for browser tests, driven over the DevTools protocol with the standard library only.

Chromium is started with ``--remote-debugging-pipe``: the protocol runs over two pipes (the browser reads commands
on fd 3 and writes replies and events on fd 4, each message a JSON object ended by a NUL byte), so no network port,
no port race and no websocket package are needed.

Stable interface (the docs-site and dashboard browser tests use it; keep it backwards compatible):

    find_chromium() -> str | None
        Path of a Chromium/Chrome binary: $RETAIL_LIFT_CHROMIUM if set, else the first of chromium,
        chromium-browser, google-chrome, google-chrome-stable on PATH; None when there is none.

    skip_unless_chromium() -> str
        The binary path, or ``pytest.skip`` with a printed reason when Chromium is absent.

    open_page(url, screenshot_path=None, wait_for_text=None, timeout=30, *, wait_for_js=None,
              evaluate=None, before_screenshot=None, width=1400, height=900) -> PageResult
        Starts a browser, opens ``url`` (http://, file://, hash routes such as
        ``file:///.../static_index.html#!/model/model.retail_lift.fct_sessions`` work), waits for the load event,
        then until ``wait_for_text`` appears in ``document.body.innerText`` and ``wait_for_js`` (a JavaScript
        expression) is truthy, evaluates each JavaScript expression of ``evaluate`` ({name: expression}, results
        by value, promises awaited), runs ``before_screenshot`` (JavaScript, e.g. scrolling an element into
        view), saves a PNG screenshot of the viewport to ``screenshot_path`` and closes the browser.
        It never raises on a page that does not show the text: ``found_text`` / ``condition_met`` say so,
        so the test can assert with a useful message. It raises ``ChromiumError`` when the browser cannot start,
        dies, or does not answer a protocol command within ``timeout``.

    Chromium(binary=None, timeout=30)   context manager, one browser for several pages:
        with Chromium() as browser:
            first = browser.open_page(url_1, shot_1, wait_for_text="...")
            second = browser.open_page(url_2, shot_2, wait_for_js="document.images.length > 0")
        Chromium.open_page takes the same arguments as the module-level open_page. Each page is a fresh tab, so
        console errors are collected per page.

    PageResult fields:
        url               the URL that was opened
        final_url         location.href when the page was read (after redirects and client-side routing)
        title             document.title
        text              document.body.innerText (the visible text)
        console_errors    list[str]: console.error(...) calls (Runtime.consoleAPICalled type "error"/"assert"),
                          uncaught exceptions and unhandled rejections (Runtime.exceptionThrown), and browser log
                          entries of level "error" (Log.entryAdded: failed resource loads, CSP and network errors)
        console_messages  list[str]: every console/log message of any level, "level: text", for diagnostics
        found_text        True when wait_for_text was seen (True when it was not asked for)
        condition_met     True when wait_for_js became truthy (True when it was not asked for)
        values            {name: value} of the ``evaluate`` expressions (None for an expression that threw;
                          its error is appended to console_errors as "evaluate <name>: ...")
        screenshot_path   Path of the PNG written, or None
        elapsed_s         seconds from navigation to screenshot

Usage in a test module (put browser tests in this folder, then ``from _chromium import open_page`` works because
pytest puts the test's folder on sys.path):

    from _chromium import open_page, skip_unless_chromium

    def test_page(tmp_path):
        skip_unless_chromium()
        page = open_page("http://127.0.0.1:8501", tmp_path / "page.png", wait_for_text="Experiments", timeout=60)
        assert page.found_text, page.text[:500]
        assert page.console_errors == [], page.console_errors

Chromium runs with ``--no-sandbox`` (containers and root users cannot use its sandbox; the tests only open pages
that this project generated or serves locally) and a throw-away profile directory.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChromiumError(RuntimeError):
    """The browser could not start, died, or did not answer a DevTools command in time."""


@dataclass
class PageResult:
    url: str
    final_url: str = ""
    title: str = ""
    text: str = ""
    console_errors: list[str] = field(default_factory=list)
    console_messages: list[str] = field(default_factory=list)
    found_text: bool = True
    condition_met: bool = True
    values: dict[str, Any] = field(default_factory=dict)
    screenshot_path: Path | None = None
    elapsed_s: float = 0.0


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    explicit = os.environ.get("RETAIL_LIFT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def skip_unless_chromium() -> str:
    """The Chromium binary, or skip the calling test with a printed reason."""
    import pytest

    path = find_chromium()
    if path is None:
        reason = ("Chromium not found (looked for $RETAIL_LIFT_CHROMIUM, " + ", ".join(_CANDIDATES)
                  + " on PATH); install Debian's `chromium` package to run the browser tests")
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return path


def _remote_object_text(obj: dict) -> str:
    if "value" in obj:
        return obj["value"] if isinstance(obj["value"], str) else json.dumps(obj["value"])
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "")


class Chromium:
    """One headless browser process; open_page opens each URL in a fresh tab."""

    def __init__(self, binary: str | None = None, timeout: float = 30):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise ChromiumError("Chromium not found; see find_chromium()")
        self.timeout = timeout
        self._proc: subprocess.Popen | None = None
        self._profile: tempfile.TemporaryDirectory | None = None
        self._next_id = 0
        self._lock = threading.Lock()
        self._replies: dict[int, queue.Queue] = {}
        self._events: dict[str, list[dict]] = {}  # sessionId -> events, appended by the reader thread
        self._closed = threading.Event()
        self._stderr_tail: list[str] = []

    # ------------------------------------------------------------------ process and pipe
    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="retail_lift_chromium_")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # copies above fd 10, so that placing them at 3 and 4 in the child cannot overwrite each other
        child_in = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def place_pipes() -> None:  # runs in the child between fork and exec
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [
            self.binary, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
            "--hide-scrollbars", f"--user-data-dir={self._profile.name}", "about:blank",
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, preexec_fn=place_pipes, close_fds=False)
        os.close(child_in)
        os.close(child_out)
        self._write = os.fdopen(to_browser_w, "wb", buffering=0)
        self._read = os.fdopen(from_browser_r, "rb", buffering=0)
        threading.Thread(target=self._reader, daemon=True).start()
        threading.Thread(target=self._stderr_reader, daemon=True).start()
        version = self.send("Browser.getVersion")
        self.version = version.get("product", "")

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            if self._proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except ChromiumError:
                    pass
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=10)
        finally:
            for stream in (self._write, self._read):
                try:
                    stream.close()
                except OSError:
                    pass
            self._proc = None
            if self._profile is not None:
                self._profile.cleanup()
                self._profile = None

    def _reader(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self._read.read(65536)
                if not chunk:
                    break
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    if raw:
                        self._dispatch(json.loads(raw))
        except (OSError, ValueError):
            pass
        finally:
            self._closed.set()
            with self._lock:
                for waiter in self._replies.values():
                    waiter.put(None)

    def _stderr_reader(self) -> None:
        for line in self._proc.stderr:
            self._stderr_tail = (self._stderr_tail + [line.decode(errors="replace").rstrip()])[-20:]

    def _dispatch(self, message: dict) -> None:
        if "id" in message:
            with self._lock:
                waiter = self._replies.pop(message["id"], None)
            if waiter is not None:
                waiter.put(message)
        else:
            with self._lock:
                self._events.setdefault(message.get("sessionId", ""), []).append(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        """Send one DevTools command and return its result (raises ChromiumError on an error reply or timeout)."""
        if self._closed.is_set():
            raise ChromiumError(f"Chromium exited before {method}: " + " | ".join(self._stderr_tail[-5:]))
        waiter: queue.Queue = queue.Queue(maxsize=1)
        with self._lock:
            self._next_id += 1
            message_id = self._next_id
            self._replies[message_id] = waiter
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode() + b"\0")
        try:
            reply = waiter.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise ChromiumError(f"no answer to {method} within {timeout or self.timeout}s") from None
        if reply is None:
            raise ChromiumError(f"Chromium exited during {method}: " + " | ".join(self._stderr_tail[-5:]))
        if "error" in reply:
            raise ChromiumError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def _session_events(self, session: str) -> list[dict]:
        with self._lock:
            return list(self._events.get(session, []))

    def _evaluate(self, session: str, expression: str) -> tuple[Any, str | None]:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            return None, _remote_object_text(details.get("exception", {})) or details.get("text", "error")
        return result.get("result", {}).get("value"), None

    # ------------------------------------------------------------------ pages
    def open_page(self, url: str, screenshot_path: str | Path | None = None, wait_for_text: str | None = None,
                  timeout: float = 30, *, wait_for_js: str | None = None, evaluate: dict[str, str] | None = None,
                  before_screenshot: str | None = None, width: int = 1400, height: int = 900) -> PageResult:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        result = PageResult(url=url)
        try:
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                self.send(domain, session=session)
            self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                             "deviceScaleFactor": 1, "mobile": False}, session)
            started = time.monotonic()
            deadline = started + timeout
            navigation = self.send("Page.navigate", {"url": url}, session)
            if navigation.get("errorText"):
                result.console_errors.append(f"navigation: {navigation['errorText']}")
            self._wait(session, deadline, lambda: any(e.get("method") == "Page.loadEventFired"
                                                      for e in self._session_events(session)))
            if wait_for_text is not None:
                result.found_text = self._wait(session, deadline, lambda: wait_for_text in (self._evaluate(
                    session, "document.body ? document.body.innerText : ''")[0] or ""))
            if wait_for_js is not None:
                result.condition_met = self._wait(session, deadline,
                                                  lambda: bool(self._evaluate(session, wait_for_js)[0]))
            for name, expression in (evaluate or {}).items():
                value, error = self._evaluate(session, expression)
                result.values[name] = value
                if error:
                    result.console_errors.append(f"evaluate {name}: {error}")
            result.final_url = self._evaluate(session, "location.href")[0] or ""
            result.title = self._evaluate(session, "document.title")[0] or ""
            result.text = self._evaluate(session, "document.body ? document.body.innerText : ''")[0] or ""
            if before_screenshot is not None:
                _, error = self._evaluate(session, before_screenshot)
                if error:
                    result.console_errors.append(f"before_screenshot: {error}")
                time.sleep(0.3)  # let the page repaint after scrolling
            if screenshot_path is not None:
                shot = self.send("Page.captureScreenshot", {"format": "png"}, session)
                path = Path(screenshot_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(shot["data"]))
                result.screenshot_path = path
            result.elapsed_s = round(time.monotonic() - started, 3)
            self._collect_messages(session, result)
        finally:
            try:
                self.send("Target.closeTarget", {"targetId": target}, timeout=5)
            except ChromiumError:
                pass
            with self._lock:
                self._events.pop(session, None)
        return result

    def _wait(self, session: str, deadline: float, condition) -> bool:
        while True:
            try:
                if condition():
                    return True
            except ChromiumError:  # e.g. the page's context was replaced by a navigation; retry until the deadline
                if self._closed.is_set():
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def _collect_messages(self, session: str, result: PageResult) -> None:
        for event in self._session_events(session):
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(_remote_object_text(arg) for arg in params.get("args", []))
                result.console_messages.append(f"console.{params.get('type')}: {text}")
                if params.get("type") in ("error", "assert"):
                    result.console_errors.append(f"console.{params.get('type')}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = _remote_object_text(details.get("exception", {})) or details.get("text", "")
                where = f" ({details.get('url', '')}:{details.get('lineNumber', '')})" if details.get("url") else ""
                result.console_messages.append(f"exception: {text}{where}")
                result.console_errors.append(f"uncaught exception: {text}{where}")
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                text = entry.get("text", "") + (f" ({entry['url']})" if entry.get("url") else "")
                result.console_messages.append(f"log.{entry.get('level')}: {text}")
                if entry.get("level") == "error":
                    result.console_errors.append(f"log.error [{entry.get('source', '')}]: {text}")


def open_page(url: str, screenshot_path: str | Path | None = None, wait_for_text: str | None = None,
              timeout: float = 30, **kwargs) -> PageResult:
    """Open one page in a fresh headless browser; see the module docstring."""
    with Chromium(timeout=max(timeout, 30)) as browser:
        return browser.open_page(url, screenshot_path, wait_for_text, timeout, **kwargs)

"""Headless Chromium driven over the Chrome DevTools Protocol (a websocket, no extra browser
driver): navigate, evaluate JavaScript in the page, wait for a condition, take a screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import select
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
from websockets.sync.client import ClientConnection, connect

__all__ = ["Browser", "chromium"]

_LISTENING = re.compile(r"DevTools listening on (ws://[^\s]+)")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs it (Debian package chromium)")
    pytest.skip("chromium not installed (Debian package chromium)")


class Browser:
    """One headless Chromium page. ``with Browser(profile) as page: page.navigate(url)``."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 900) -> None:
        self.profile = profile
        self.size = (width, height)
        self.process: subprocess.Popen[str] | None = None
        self.socket: ClientConnection | None = None
        self._ids = itertools.count(1)

    def __enter__(self) -> Self:
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", f"--window-size={self.size[0]},{self.size[1]}", "about:blank",
        ]  # fmt: skip
        self.process = subprocess.Popen([chromium(), *flags], stderr=subprocess.PIPE, text=True)
        browser_url = self._devtools_url()
        port = browser_url.split(":")[2].split("/")[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as listing:
            page = next(target for target in json.loads(listing.read()) if target["type"] == "page")
        self.socket = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        return self

    def _devtools_url(self, timeout_s: float = 60.0) -> str:
        assert self.process is not None and self.process.stderr is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 0.5)
            line = self.process.stderr.readline() if ready else ""
            if found := _LISTENING.search(line):
                return found.group(1)
            assert self.process.poll() is None, "chromium exited at start"
        raise TimeoutError("chromium did not open its DevTools port")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One protocol command; events arriving meanwhile are skipped."""
        assert self.socket is not None
        command_id = next(self._ids)
        self.socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=120))
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}...: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'", f"{url} to load")

    def set_files(self, selector: str, *paths: Path) -> None:
        """Chooses files in a file input, as a user would in the file dialog (fires ``change``)."""
        root = self.send("DOM.getDocument")["root"]["nodeId"]
        node = self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.send("DOM.setFileInputFiles", nodeId=node, files=[str(path) for path in paths])

    def screenshot(self, target: Path) -> None:
        shot = self.send("Page.captureScreenshot", format="png")
        target.write_bytes(base64.b64decode(shot["data"]))

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.profile, ignore_errors=True)

"""A real headless Chromium driven over the DevTools protocol (a websocket; aiohttp is the client), for the
web output's tests. Debian's `chromium`; LIVE_TEST_CHROMIUM names another binary."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    """The Chromium binary, or None when none is installed."""
    return os.environ.get("LIVE_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class HeadlessChromium:
    """Chromium showing `url`; evaluate() runs JavaScript in the page and returns its (awaited) value."""

    def __init__(self, url: str) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("no chromium: install Debian's chromium package")
        self._profile = tempfile.mkdtemp(prefix="live-test-chromium-")
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", url]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._loop = asyncio.new_event_loop()
        self._message_id = 0
        try:
            self._session, self._socket = self._loop.run_until_complete(self._connect())
        except BaseException:
            self.close()
            raise

    async def _connect(self) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline_s = time.monotonic() + START_TIMEOUT_S
        session = aiohttp.ClientSession()
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            if port_file.exists() and port_file.read_text().strip():
                port = int(port_file.read_text().split()[0])
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    pages = [target for target in await response.json() if target["type"] == "page"]
                if pages:
                    socket = await session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
                    return session, socket
            if time.monotonic() > deadline_s:
                raise RuntimeError("chromium did not open its DevTools port")
            await asyncio.sleep(0.1)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        return self._loop.run_until_complete(asyncio.wait_for(self._evaluate(expression), CALL_TIMEOUT_S))

    async def _evaluate(self, expression: str) -> Any:
        self._message_id += 1
        message = {
            "id": self._message_id,
            "method": "Runtime.evaluate",
            "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
        }
        await self._socket.send_str(json.dumps(message))
        while True:
            reply = json.loads((await self._socket.receive()).data)
            if reply.get("id") == self._message_id:
                result = reply["result"]
                if "exceptionDetails" in result:
                    raise RuntimeError(f"page error: {result['exceptionDetails']}")
                return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float) -> Any:
        """Poll a JavaScript expression until it is truthy; its value (RuntimeError at the timeout)."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline_s:
                raise RuntimeError(f"still false after {timeout_s:g} s: {expression}")
            time.sleep(0.2)

    def close(self) -> None:
        """Quit chromium and remove its profile; safe to call twice."""
        if getattr(self, "_session", None) is not None:
            self._loop.run_until_complete(self._socket.close())
            self._loop.run_until_complete(self._session.close())
            self._session = None
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if not self._loop.is_closed():
            self._loop.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> HeadlessChromium:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

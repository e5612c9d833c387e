"""Headless Chromium driven over the Chrome DevTools Protocol on a pipe, for tests that type into
a page: no browser download, no port, no extra package.

With --remote-debugging-pipe Chromium reads commands from its file descriptor 3 and writes replies
and events to its descriptor 4, each one JSON message ending in a NUL byte.

    with Browser(chromium_path, profile_folder) as browser:
        browser.open(path.as_uri(), ready="document.body.dataset.ready === 'true'")
        browser.evaluate("document.title")
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path

# Flags that let Chromium run headless in a container and keep it off the network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class DevToolsError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page (tab)."""

    def __init__(self, executable: str, profile: Path, timeout: float = 60) -> None:
        self.timeout = timeout
        # Chromium's end of each pipe is moved to descriptor 3 or 4 in the child; ours stay
        # above 10 so that moving one can never overwrite the other.
        commands_read, self._commands = _pipe_above(10)
        self._replies, replies_write = _pipe_above(10)

        def wire() -> None:
            os.dup2(commands_read, 3)
            os.dup2(replies_write, 4)

        command = [executable, *CHROMIUM_FLAGS, "--remote-debugging-pipe"]
        self.process = subprocess.Popen(
            [*command, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,  # our other descriptors are not inheritable (PEP 446) anyway
            preexec_fn=wire,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._buffer = b""
        self._next_id = 0
        try:
            target = self.send("Target.createTarget", url="about:blank")["targetId"]
            attached = self.send("Target.attachToTarget", targetId=target, flatten=True)
        except BaseException:
            self.close()
            raise
        self._session = attached["sessionId"]

    # ----- the protocol -----------------------------------------------------------------------
    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and wait for its reply (events on the way are dropped)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") != self._next_id:
                continue
            if "error" in reply:
                raise DevToolsError(f"{method}: {reply['error']}")
            return reply["result"]

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise DevToolsError(f"no reply from Chromium within {self.timeout} s")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise DevToolsError("Chromium closed the pipe (did it crash?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    # ----- the page ---------------------------------------------------------------------------
    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page; its exception raised here."""
        result = self.send(
            "Runtime.evaluate", self._session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description", str(details)))
        return result["result"].get("value")

    def open(self, url: str, ready: str) -> None:
        """Load `url` and wait until the expression `ready` is true in it."""
        self.send("Page.navigate", self._session, url=url)
        deadline = time.monotonic() + self.timeout
        check = f"document.URL === {json.dumps(url)} && document.readyState === 'complete'"
        while not self.evaluate(f"{check} && Boolean({ready})"):
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''")
                raise DevToolsError(f"{url} not ready within {self.timeout} s; it shows: {text}")
            time.sleep(0.05)

    def close(self) -> None:
        with contextlib.suppress(DevToolsError):  # it may close the pipe before it replies
            self.send("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _pipe_above(lowest: int) -> tuple[int, int]:
    """A pipe whose two descriptors are numbered `lowest` or more, both close-on-exec."""
    ends = []
    for end in os.pipe():
        ends.append(fcntl.fcntl(end, fcntl.F_DUPFD_CLOEXEC, lowest))
        os.close(end)
    return ends[0], ends[1]

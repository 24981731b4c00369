"""Capturing what native libraries (ONNX Runtime, MediaPipe/TFLite) write straight to file descriptor 2."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import TypeVar

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
Started = TypeVar("Started")


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Capture C-level writes to file descriptor 2 (ORT logs there); the text lands in the yielded list.

    Process-wide while active: create sessions before starting worker threads.
    """
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as temporary:
        os.dup2(temporary.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            temporary.seek(0)
            captured.append(_ANSI_ESCAPE.sub("", temporary.read().decode(errors="replace")))


def started_quietly(start: Callable[[], Started]) -> Started:
    """start() with its C-level start-up log (MediaPipe's TFLite delegate lines) kept off the user's terminal;
    on failure the log is written to stderr and the error re-raised. Process-wide: call before worker threads."""
    failure: Exception | None = None
    with captured_stderr() as log:
        try:
            started = start()
        except Exception as error:  # re-raised below, after stderr is restored
            failure = error
    if failure is not None:
        sys.stderr.write("".join(log))
        raise failure
    return started

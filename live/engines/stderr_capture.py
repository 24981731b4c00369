"""Capturing what native libraries (ONNX Runtime, MediaPipe/TFLite) write straight to file descriptor 2."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


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

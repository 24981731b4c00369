"""Writing a file whole or not at all: write a temporary beside it, then rename it over the file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


def partial_path(path: Path) -> Path:
    """The temporary written beside `path` before it is renamed over it: `path` + ".partial"."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path (`path` + ".partial") to write in the block; renamed over `path` when the block ends
    without an error, removed otherwise, so `path` is whole or unchanged. OSError passes through."""
    temporary = partial_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():  # (unlink of a missing file fails too on a read-only file system)
            temporary.unlink()

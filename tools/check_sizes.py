"""Fail when a module of live/ is over 300 lines or a function over 60 (CI runs this).

Exceptions are listed in ALLOWED with the reason; keep the list short.
Usage: python tools/check_sizes.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MODULE_MAX_LINES = 300
FUNCTION_MAX_LINES = 60
ALLOWED: dict[str, str] = {}  # "path" or "path:function" -> why it may be longer


def problems(root: Path) -> list[str]:
    """One line per module or function over its limit (and not in ALLOWED)."""
    found = []
    for path in sorted((root / "live").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        text = path.read_text()
        line_count = len(text.splitlines())
        if line_count > MODULE_MAX_LINES and relative not in ALLOWED:
            found.append(f"{relative}: {line_count} lines (at most {MODULE_MAX_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                key = f"{relative}:{node.name}"
                if length > FUNCTION_MAX_LINES and key not in ALLOWED:
                    found.append(f"{key} (line {node.lineno}): {length} lines (at most {FUNCTION_MAX_LINES})")
    return found


def main() -> int:
    found = problems(Path(__file__).resolve().parents[1])
    for line in found:
        print(line)
    print(f"check_sizes: {len(found)} over the limits" if found else "check_sizes: every module and function fits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

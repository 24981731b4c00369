"""The one context-manager shape every stage shares: create, use, `close()` (idempotent), or `with`."""

from __future__ import annotations

from typing import TypeVar

_Self = TypeVar("_Self", bound="Closing")


class Closing:
    """Mixin: `with Stage(...) as stage:` calls `stage.close()` on the way out.

    Subclasses implement `close()` so that calling it twice is safe. No `__del__`: release is explicit.
    """

    def close(self) -> None:
        """Release what the object holds; safe to call twice."""
        raise NotImplementedError

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

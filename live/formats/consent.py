"""The consent statement a dataset and its model card carry: checked where it is given, so it says something.

A statement is kept when it has at least MINIMUM_WORDS words of two or more letters (who consented, to what,
when) and no control or invisible characters (a lone zero-width space, a no-break space or a terminal escape says
nothing a reader can see). Scripts written without spaces (Chinese, Japanese) count each wide character as a word.
"""

from __future__ import annotations

import re
import unicodedata

from live.errors import UsageError

MINIMUM_WORDS = 3
MAXIMUM_CHARACTERS = 2000
CONSENT_EXAMPLE = '"Jane Doe, avatar for her own calls, 2026-11-22"'
CONSENT_RULE = (
    f"say who consented, to what, and when in at least {MINIMUM_WORDS} words, on one line, "
    f"without control or invisible characters (e.g. {CONSENT_EXAMPLE})"
)
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# Control, format (zero-width, bidi overrides), line and paragraph separators, private use, unassigned.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"}
# Letters that draw nothing (Hangul fillers).
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0"}


def _word_count(text: str) -> int:
    """Runs of two or more letters; in a run of wide characters (scripts without spaces) each character counts."""
    count = 0
    for run in _LETTER_RUN.findall(text):
        wide = [unicodedata.east_asian_width(character) in ("W", "F") for character in run]
        count += sum(wide) + (1 if len(run) >= 2 and not all(wide) else 0)
    return count


def check_consent(text: object, option: str = "--consent") -> str:
    """The consent statement with its outer spaces removed; UsageError (one line naming the rule) unless it has
    at least MINIMUM_WORDS words of two or more letters, no control or invisible characters, and at most
    MAXIMUM_CHARACTERS characters.

    option: how the caller names the input in the message (a CLI option, or a file's field)."""
    if not isinstance(text, str):  # (a hand-edited manifest)
        raise UsageError(f"{option} is {type(text).__name__}, not text: {CONSENT_RULE}")
    statement = text.strip()
    if not statement:
        raise UsageError(f"{option} is required: {CONSENT_RULE}")
    refused = sorted(
        {
            character
            for character in statement
            if unicodedata.category(character) in _REFUSED_CATEGORIES or character in _BLANK_LETTERS
        }
    )
    if refused:
        codes = ", ".join(f"U+{ord(character):04X}" for character in refused[:5])
        raise UsageError(f"{option} holds control or invisible characters ({codes}): {CONSENT_RULE}")
    if len(statement) > MAXIMUM_CHARACTERS:
        raise UsageError(f"{option} is {len(statement)} characters long, at most {MAXIMUM_CHARACTERS}: {CONSENT_RULE}")
    if (words := _word_count(statement)) < MINIMUM_WORDS:
        raise UsageError(f"{option} has only {words} word{'' if words == 1 else 's'}: {CONSENT_RULE}")
    return statement

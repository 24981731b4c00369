"""Replace the notes kept in an exported model's card, without re-exporting (the weights stay as they are).

    python tools/store_card_notes.py models/jwp.onnx tools/default_avatar_notes.md

`live export RUN --notes FILE` stores the notes at export; this is for a model whose run is gone or
whose notes grew after it was exported. models/NAME.md is rewritten from the card as well.
"""

from __future__ import annotations

import sys
from pathlib import Path

from live.formats.card_file import update_card_notes


def main(model: str, notes_file: str) -> int:
    notes = Path(notes_file).read_text()
    update_card_notes(Path(model), notes)
    print(f"{model}: card notes replaced by {notes_file} ({len(notes)} characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

"""Plain-text output for people: the one table layout every ``muda`` command prints."""

from __future__ import annotations

from collections.abc import Iterable


def table(headers: list[str], rows: Iterable[Iterable[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )

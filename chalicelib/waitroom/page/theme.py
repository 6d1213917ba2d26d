"""Organiser colours, kept readable: text on a colour is black or white, whichever contrasts more
(WCAG 2.x relative luminance), which always gives at least 4.5:1."""

from __future__ import annotations

BLACK, WHITE = "#000000", "#ffffff"


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio (1 to 21)."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour``."""
    return BLACK if contrast(colour, BLACK) >= contrast(colour, WHITE) else WHITE


def palette(primary: str, background: str) -> dict[str, str]:
    """The page's CSS variables from the organiser's two colours."""
    text = text_on(background)
    return {
        "--bg": background,
        "--fg": text,
        "--muted": text,  # same colour, lighter weight: a grey could fall under 4.5:1 on their background
        "--primary": primary,
        "--on-primary": text_on(primary),
    }

"""Printing model output safely: random-weight (and some real) models generate control
characters, which a terminal would execute (clear the screen, move the cursor, ring)."""

from __future__ import annotations

__all__ = ["escape_unprintable"]


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON writes astral characters as a surrogate pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def escape_unprintable(text: str, keep: str = "\n\t") -> str:
    """``text`` with every unprintable character except those in ``keep`` written as ``\\uXXXX``.

    The escapes are JSON's, so escaping inside JSON text keeps it valid JSON.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)

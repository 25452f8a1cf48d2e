"""CSV cells a spreadsheet shows as text (OWASP CSV injection), reversibly, so the offline
verifier reads back exactly the exported values. No Django: the verifier runs without it."""

from __future__ import annotations

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise_cell(value):
    """A string starting with a formula trigger gets a leading single quote; one that already
    starts with a quote gets another, so ``restore_cell`` can always take exactly one off.
    Numbers and other values pass unchanged."""
    if isinstance(value, str) and value.startswith((*FORMULA_TRIGGERS, QUOTE)):
        return QUOTE + value
    return value


def restore_cell(text: str) -> str:
    """The exported value of a cell written by ``neutralise_cell``."""
    return text[1:] if text.startswith(QUOTE) else text

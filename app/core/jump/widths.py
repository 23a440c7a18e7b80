"""Draws per element of bounded integers whose sampler never rejects."""

from __future__ import annotations


def masked_power_of_two_words(width: int) -> int | None:
    """32-bit words per element of numpy's masked rejection sampler (RandomState.randint).

    With ``high - low`` a power of two the mask is exact and no draw is rejected: one word
    for widths up to 2**32, two above, none for a width of 1. Otherwise None (it varies).
    """
    if width < 1 or width & (width - 1):
        return None
    return 0 if width == 1 else 1 if width <= 2**32 else 2

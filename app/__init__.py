"""Seed Authority: exact slices of NumPy, Python and torch random streams over HTTP."""

__version__ = "0.1.0"

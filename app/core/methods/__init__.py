"""Distributions by the libraries' own names and parameters.

Each module here describes the univariate samplers of one library (numpy's ``Generator``
and ``RandomState``, Python's ``random``, torch's in-place CPU samplers) as registry
entries: the parameters with numpy's / random's / torch's names, their domains, the
reference call, how many bit-generator words an element takes when that is fixed (then
the engine jumps to an offset), and what the service refuses and why. The engine modules
add these entries to their ``distributions``.
"""

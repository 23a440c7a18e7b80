"""Parameter domains, declared once per parameter and checked with the parameter's name.

The domains mirror the libraries' own checks (numpy's ``CONS_*`` constraints, the
``ValueError`` s of Python's ``random``, torch's ``TORCH_CHECK`` s), so a request the
library would refuse is a 422 naming the parameter before any value is drawn. Where the
service refuses more than the library (parameters for which a sampler does not terminate,
or raises on some draws), the distribution says so in its own check, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from app.core.errors import InvalidParameter
from app.core.spec import Number, Param, Params

Domain = Literal["real", ">0", ">=0", "[0,1]", "(0,1]", "[0,1)", "(0,1)", ">1", ">=1", "!=0"]

_TEST: dict[Domain, Callable[[float], bool]] = {
    "real": lambda v: True,
    ">0": lambda v: v > 0,
    ">=0": lambda v: v >= 0,
    "[0,1]": lambda v: 0 <= v <= 1,
    "(0,1]": lambda v: 0 < v <= 1,
    "[0,1)": lambda v: 0 <= v < 1,
    "(0,1)": lambda v: 0 < v < 1,
    ">1": lambda v: v > 1,
    ">=1": lambda v: v >= 1,
    "!=0": lambda v: v != 0,
}
_WORDS: dict[Domain, str] = {
    "real": "any finite number",
    ">0": "> 0",
    ">=0": ">= 0",
    "[0,1]": "in [0, 1]",
    "(0,1]": "in (0, 1]",
    "[0,1)": "in [0, 1)",
    "(0,1)": "in (0, 1)",
    ">1": "> 1",
    ">=1": ">= 1",
    "!=0": "nonzero",
}


@dataclass(frozen=True)
class P:
    """A parameter as the library names it: kind, default (None: required), domain, an
    example value (for documentation, golden vectors and tests), and what it means."""

    name: str
    doc: str
    domain: Domain = "real"
    default: Number | None = None
    example: Number | None = None
    kind: Literal["float", "int"] = "float"
    optional: bool = False
    """May be left out although it has no default (the call then omits it)."""
    low: Number | None = None
    high: Number | None = None
    """Extra bounds the service enforces beyond the domain (see the distribution's notes)."""

    def param(self) -> Param:
        doc = f"{self.doc} ({_WORDS[self.domain]}"
        if self.low is not None:
            doc += f", >= {self.low!r}"
        if self.high is not None:
            doc += f", <= {self.high!r}"
        doc += ")"
        return Param(self.name, self.kind, self.default, doc,
                     example=self.example if self.example is not None else self.default,
                     optional=self.optional)

    def check(self, params: Params, why: str = "") -> None:
        if self.name not in params:
            return
        value = params[self.name]
        if math.isnan(value) or not _TEST[self.domain](value):
            raise InvalidParameter(self.name, f"must be {_WORDS[self.domain]}, got {value!r}")
        if self.low is not None and value < self.low:
            raise InvalidParameter(self.name, f"must be >= {self.low!r}, got {value!r}{why}")
        if self.high is not None and value > self.high:
            raise InvalidParameter(self.name, f"must be <= {self.high!r}, got {value!r}{why}")


def check_all(ps: Sequence[P], params: Params, why: str = "") -> None:
    for p in ps:
        p.check(params, why)


def named_in(message: str, names: Sequence[str]) -> str:
    """The parameter a library error message names first (else the first parameter)."""
    words = message.replace(",", " ").replace("(", " ").replace(")", " ").split()
    for w in words:
        if w in names:
            return w
    return names[0] if names else "params"

"""Client of Seed Authority: remote random streams, generators and inits that feel local."""

from seed_authority_client.authority import (
    Authority,
    AuthorityError,
    AuthorityUnavailable,
    Stream,
)
from seed_authority_client.runs import Claim, Cursor, Run

__all__ = ["Authority", "AuthorityError", "AuthorityUnavailable", "Claim", "Cursor", "Run",
           "Stream"]
__version__ = "0.1.0"

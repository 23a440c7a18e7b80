"""Client of Seed Authority: remote random streams, generators and inits that feel local."""

from seed_authority_client.authority import (
    Authority,
    AuthorityError,
    AuthorityUnavailable,
    Stream,
)
from seed_authority_client.jax_keys import JaxKey
from seed_authority_client.orders import IndexOrder
from seed_authority_client.runs import Claim, Cursor, Run

__all__ = ["Authority", "AuthorityError", "AuthorityUnavailable", "Claim", "Cursor",
           "IndexOrder", "JaxKey", "Run", "Stream"]
# AuthoritySampler (needs torch): from seed_authority_client.sampler import AuthoritySampler
__version__ = "0.1.0"

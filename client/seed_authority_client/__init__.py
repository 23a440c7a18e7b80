"""Client of Seed Authority: remote random streams, generators and inits that feel local."""

from seed_authority_client.authority import (
    Authority,
    AuthorityError,
    AuthorityUnavailable,
    Stream,
)
from seed_authority_client.orders import IndexOrder

__all__ = ["Authority", "AuthorityError", "AuthorityUnavailable", "IndexOrder", "Stream"]
# AuthoritySampler (needs torch): from seed_authority_client.sampler import AuthoritySampler
__version__ = "0.1.0"

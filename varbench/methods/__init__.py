"""Methods of the three tracks, one contract: method(model, data, rng, **params) returns its
result type (`varbench.methods.base`): an importance array (d,) or `Attribution`; an
`Interactions` (`varbench.methods.interactions`); a `Selection` (`varbench.methods.selection`)."""
from varbench.methods.base import Attribution

__all__ = ["Attribution"]

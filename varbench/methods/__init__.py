"""Importance methods. Contract: method(model, data, rng, **params) -> array (d,) | Attribution."""
from varbench.methods.base import Attribution

__all__ = ["Attribution"]

"""`varbench advise`: which importance method to trust on your own table (see core.py)."""
from varbench.advise.core import DEFAULT_OUT, advise

__all__ = ["advise", "DEFAULT_OUT"]

"""Kept import path: the discriminability statistics live in `varbench.report.discriminability`."""
from varbench.report.discriminability import (Discrimination, discriminability, discriminability_table, oriented,
                                              run_groups)

__all__ = ["Discrimination", "discriminability", "discriminability_table", "oriented", "run_groups"]

"""`python -m varbench ...` is the `varbench` command."""
from varbench.cli import main

main()

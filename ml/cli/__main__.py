"""`python -m ml.cli` = `musicml`."""

from ml.cli import main

main()

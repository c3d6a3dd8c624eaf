"""`python -m recipec`."""

from recipec.cli import main

main()

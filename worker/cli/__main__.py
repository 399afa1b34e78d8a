"""`python -m worker.cli`: the same as the `triage` command."""

from worker.cli import main

main()

"""Operational entry points an admin or volunteer runs: the `xiangyin` command."""

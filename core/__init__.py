"""Records and rules of Xiangyin: models, lessons, users, imports.

Nothing here imports Flask, so the CLI, background jobs and tests use the same rules as the
web pages.
"""

"""Run the CLI as ``python -m genrekit.cli``."""

from genrekit.cli import app

app()

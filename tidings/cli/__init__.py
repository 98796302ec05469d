"""Command-line adapter (Typer): `tidings --help`."""

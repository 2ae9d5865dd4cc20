"""The `motorcade` command line (Typer + Rich); see `main.py`."""

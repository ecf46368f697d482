"""`python -m actbench ...` (used by sweep workers so they run with the same interpreter)."""

from actbench.cli import app

app()

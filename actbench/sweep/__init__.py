"""Sweeps: the plan (grid of runs, names, manifest), the state of each run folder (claims, crashes),
and the launchers that execute it (local worker processes, Ray)."""

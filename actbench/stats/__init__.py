"""Statistics, pure functions on numbers: summaries and Welch tests over seeds (`summary`), the
seed-level decision rule (`decisions`), per-image paired tests (`paired`), ranks across tasks (`ranks`)
and the simulation that measures the decision rule's error rates (`calibration`)."""

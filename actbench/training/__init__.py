"""Training one run: the epoch loop (`loop`) and the run lifecycle around it (`lifecycle`: resume,
checkpoints, per-epoch records, final evaluation, summary). Printing and trackers attach through hooks."""

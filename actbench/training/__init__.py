"""Training one run: the epoch loop (`loop`) and the run folder around it: `state.RunState` (resume,
checkpoints, per-epoch records, final evaluation, summary; a pack member is one too) and the stateless
pieces it uses (`lifecycle`: hooks, the epoch record, the final evaluation, a failure before the first
epoch). Printing and trackers attach through hooks."""

"""Packed runs: K runs of the same network trained as one grouped network (`model`), one merged
optimizer step (`optim`), which runs may share a pack (`plan`), and the pack training loop (`train`)."""

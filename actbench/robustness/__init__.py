"""Robustness of trained runs: additive noise (`noise`), CIFAR-10-C-style corruptions (`ops` builds
them, `corruptions` holds the datasets) and their evaluation over a run folder (`evaluate`); the results
files both keep, merged one way (`results`)."""

"""Suites: several tasks (network x data), one sweep each (`spec` reads a suite; the shipped ones are
the YAML files in this folder), and the cross-task report with ranks and the Friedman test (`report`)."""

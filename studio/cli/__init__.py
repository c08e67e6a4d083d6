"""The command line: argument parsing, terminal progress and exit codes, over the core (``studio render`` …)."""

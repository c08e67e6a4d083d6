"""Pure functions and small frozen dataclasses: arrays in, arrays out. No Qt, no I/O side effects beyond files."""

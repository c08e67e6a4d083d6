"""Drawing Studio: bring a child's drawing of a person to life."""

__version__ = "0.1.0"

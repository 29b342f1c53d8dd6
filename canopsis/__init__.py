"""canopsis: event hypervision platform."""

__version__ = "0.1.0"

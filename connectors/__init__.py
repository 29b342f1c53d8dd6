"""Data sources that publish events to canopsis."""

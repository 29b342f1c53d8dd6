"""The engines of the event pipeline, one module each."""

"""The alignment pipeline: an ordered list of stages around the backend call."""

"""The risk gate: a millisecond classifier deciding per request whether a stage runs."""

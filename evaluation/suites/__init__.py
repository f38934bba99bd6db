"""Evaluation suites: each reads a prompt set, asks a run for answers and scores them."""

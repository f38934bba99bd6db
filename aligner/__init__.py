"""Aligner: corrects the backend's answer after the call."""

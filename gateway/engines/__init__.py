"""Engines that run the small rewriting models (in-process or remote)."""

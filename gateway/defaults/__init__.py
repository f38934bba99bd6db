"""Configuration shipped with the package: the embedded default."""

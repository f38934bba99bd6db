"""Tenants: API keys, policies, limits and experiments, kept in a store."""

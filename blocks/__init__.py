"""Plait blocks: typed, saved, secret-aware configuration (credentials, storage, notifications)."""

"""Registers the example integration's block types."""

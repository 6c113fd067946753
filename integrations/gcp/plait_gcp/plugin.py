"""Registers plait-gcp with Plait."""

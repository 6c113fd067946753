"""Registers plait-snowflake with Plait."""

"""plait-snowflake: Snowflake credentials and a connector as Plait blocks, and query tasks."""

__version__ = "0.1.0"

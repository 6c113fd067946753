"""plait-snowflake: Snowflake credentials and a connector as Plait blocks, and query tasks.

from plait_snowflake import SnowflakeConnector

with SnowflakeConnector.load("analytics") as connector:
    rows = connector.fetch_all("select * from events where day = %s", ("2026-11-24",))
"""

from plait_snowflake.connector import SnowflakeConnector
from plait_snowflake.credentials import SnowflakeCredentials
from plait_snowflake.errors import SnowflakeError
from plait_snowflake.tasks import snowflake_multiquery, snowflake_query, snowflake_query_pandas

__version__ = "0.1.0"

__all__ = [
    "SnowflakeConnector",
    "SnowflakeCredentials",
    "SnowflakeError",
    "__version__",
    "snowflake_multiquery",
    "snowflake_query",
    "snowflake_query_pandas",
]

"""plait-snowflake's block types through Plait's conformance kit: metadata, schemas, save/load
round trips, secrets masked and encrypted at rest, nested credentials saved as documents."""

from __future__ import annotations

from plait.testing import BlockConformance
from plait_snowflake import SnowflakeConnector, SnowflakeCredentials

PEM = """-----BEGIN ENCRYPTED PRIVATE KEY-----
conformance-not-a-real-key-3f9a1c0e7b
-----END ENCRYPTED PRIVATE KEY-----
"""


def credentials() -> SnowflakeCredentials:
    return SnowflakeCredentials(
        account="myorg-conformance",
        user="ETL",
        role="TRANSFORMER",
        password="conformance-password-8e2b",
        host="127.0.0.1",
        port=9,
        protocol="http",
    )


class TestSnowflakeBlocks(BlockConformance):
    plugin = "snowflake"
    examples = [
        credentials(),
        SnowflakeCredentials(
            account="myorg-conformance",
            user="ETL",
            private_key=PEM,
            private_key_passphrase="conformance-passphrase-51d0",
        ),
        SnowflakeCredentials(account="a", user="u", private_key_path="/keys/rsa_key.p8"),
        SnowflakeCredentials(account="a", user="u", token="conformance-oauth-token-a7c3"),
        SnowflakeCredentials(account="a", user="u", authenticator="externalbrowser"),
        SnowflakeConnector(
            credentials=credentials(),
            database="ANALYTICS",
            schema="PUBLIC",
            warehouse="TRANSFORMING",
            fetch_size=50,
            query_timeout=600,
        ),
    ]

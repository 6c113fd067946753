"""plait-gcp's block types through Plait's conformance kit: metadata, schemas, save/load
round trips, secrets masked and encrypted at rest, nested credentials saved as documents."""

from __future__ import annotations

from fixtures.gcp import new_service_account_key

from plait.testing import BlockConformance
from plait_gcp import GcpCredentials, GcsBucket


def service_account_info() -> dict[str, str]:
    """A service account key's content, with a fresh RSA key. Without its ``"type":
    "service_account"`` entry (optional): the kit would find that value in the field name
    ``service_account_info`` of every repr and take it for a leaked secret."""
    key = new_service_account_key("http://127.0.0.1:9/token", project_id="conformance-project")
    return {name: value for name, value in key.info.items() if name != "type"}


def credentials() -> GcpCredentials:
    return GcpCredentials(
        service_account_info=service_account_info(),
        project="billing-project",  # not the key's project_id: the kit looks for secret values
        api_endpoint="http://127.0.0.1:9",
    )


class TestGcpBlocks(BlockConformance):
    plugin = "gcp"
    examples = [
        credentials(),
        GcpCredentials(service_account_file="/etc/plait/etl-key.json", project="prod-project"),
        GcsBucket(bucket="raw", bucket_folder="events/2026", credentials=credentials()),
    ]

"""plait-gcp: Google Cloud credentials and Cloud Storage buckets as Plait blocks, and
prebuilt tasks for them.

from plait_gcp import GcpCredentials, GcsBucket

bucket = GcsBucket(bucket="raw", credentials=GcpCredentials.load("prod"))
bucket.write_path("events/2026-11-24.json", b"[]")
"""

from plait_gcp.credentials import GcpCredentials
from plait_gcp.errors import GcpError
from plait_gcp.gcs import GcsBucket
from plait_gcp.tasks import gcs_copy, gcs_delete, gcs_download, gcs_list_blobs, gcs_upload

__version__ = "0.1.0"

__all__ = [
    "GcpCredentials",
    "GcpError",
    "GcsBucket",
    "__version__",
    "gcs_copy",
    "gcs_delete",
    "gcs_download",
    "gcs_list_blobs",
    "gcs_upload",
]

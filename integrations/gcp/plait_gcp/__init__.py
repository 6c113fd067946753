"""plait-gcp: Google Cloud credentials and Cloud Storage buckets as Plait blocks, and
prebuilt tasks for them."""

__version__ = "0.1.0"

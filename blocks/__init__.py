"""Plait blocks: typed, saved, secret-aware configuration (credentials, storage, notifications).

from plait.blocks import Secret

Secret(value="s3cr3t").save("api-token")   # once; the value is encrypted at rest
token = Secret.load("api-token").get()      # anywhere, in any flow
"""

from plait.blocks.block import Block, CheckResult, CredentialsBlock
from plait.blocks.credentials import DatabaseCredentials, Secret
from plait.blocks.fields import SecretDict
from plait.blocks.filesystems import LocalFileSystem, ReadableFileSystem, WritableFileSystem
from plait.blocks.notifications import Email, NotificationBlock, RunNotice, Webhook
from plait.blocks.object_storage import ObjectStorageBucket
from plait.blocks.object_storage_tasks import ObjectStorageTasks

__all__ = [
    "Block",
    "CheckResult",
    "CredentialsBlock",
    "DatabaseCredentials",
    "Email",
    "LocalFileSystem",
    "NotificationBlock",
    "ObjectStorageBucket",
    "ObjectStorageTasks",
    "ReadableFileSystem",
    "RunNotice",
    "Secret",
    "SecretDict",
    "Webhook",
    "WritableFileSystem",
]

"""An example Plait integration (test fixture): what a package like ``plait-aws`` provides.

from plait_example import ExampleBucket, ExampleCredentials, upload_text
"""

from plait_example.blocks import ExampleBucket, ExampleCredentials
from plait_example.tasks import upload_text

__all__ = ["ExampleBucket", "ExampleCredentials", "upload_text"]

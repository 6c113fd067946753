"""plait-slack: Slack credentials and incoming webhooks as Plait blocks, prebuilt tasks to
post messages and files, and failure alerts as state hooks.

from plait import flow
from plait_slack import SlackCredentials, SlackWebhook, send_chat_message

@flow(on_failure=[SlackWebhook.load("alerts")])
def nightly():
    send_chat_message("#data-team", "Nightly load done", credentials=SlackCredentials.load("bot"))
"""

from plait_slack.credentials import SlackCredentials
from plait_slack.errors import SlackError
from plait_slack.tasks import send_chat_message, send_incoming_webhook_message, upload_file
from plait_slack.webhook import SlackWebhook

__version__ = "0.1.0"

__all__ = [
    "SlackCredentials",
    "SlackError",
    "SlackWebhook",
    "__version__",
    "send_chat_message",
    "send_incoming_webhook_message",
    "upload_file",
]

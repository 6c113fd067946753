"""Notification blocks: send a message somewhere, by hand or as a flow's state hook."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from plait.blocks.block import Block


class NotificationBlock(Block, ABC):
    """Sends a message. Any notification block is also a state hook::

        @flow(on_failure=[Webhook.load("ops")])

    sends the run's name, its state and the state's message when the flow fails.
    """

    @abstractmethod
    def notify(self, body: str, subject: str | None = None) -> None:
        """Send ``body`` (with ``subject`` where the channel has one); raises if it fails."""

    def __call__(self, flow_or_task: Any, run: Any, state: Any) -> None:
        """Used as a state hook: notify about ``run`` entering ``state``."""
        kind = "Flow run" if getattr(run, "kind", "flow") == "flow" else "Task run"
        subject = f"{kind} {run.name!r} of {flow_or_task.name!r} is {state.name}"
        body = f"{subject}."
        if state.message:
            body += f"\n{state.message}"
        body += f"\nRun id: {run.id}"
        self.notify(body, subject=subject)

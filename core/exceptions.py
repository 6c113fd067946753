"""Exceptions Plait raises to users. Each message names what is wrong and how to fix it."""

from __future__ import annotations

from typing import Any


class PlaitError(Exception):
    """Base class of every error Plait raises itself."""


class InvalidOptionError(PlaitError, ValueError):
    """A decorator or runner option has a bad value (raised when the flow or task is defined)."""


class ParameterError(PlaitError, TypeError):
    """Arguments passed to a flow or task do not fit its signature or its type hints."""


class MappingLengthError(PlaitError, ValueError):
    """The iterables given to ``Task.map`` have different lengths."""


class MissingContextError(PlaitError, RuntimeError):
    """Something that needs a running flow or task was used outside of one."""


class UpstreamFailedError(PlaitError):
    """A task did not run because a task it depends on did not complete."""


class RunTimeoutError(PlaitError, TimeoutError):
    """A flow or task ran longer than its ``timeout_seconds``.

    Also the exception delivered asynchronously into a sync body that is still running
    in its thread after the deadline (see ``docs/concepts.md``, "Timeouts").
    """


class CancelledRunError(PlaitError):
    """The run was cancelled before it finished."""


class CrashedRunError(PlaitError):
    """The run ended because its process or worker died or was interrupted, not by its own code."""


class RemoteError(PlaitError):
    """Stands in for an exception raised in a worker process that could not be sent back."""


class ConfigError(PlaitError, ValueError):
    """A setting (environment variable or config file) has a bad value."""


class RunNotFoundError(PlaitError, LookupError):
    """No recorded run has the given id (or id prefix)."""


class AmbiguousRunIdError(ParameterError, LookupError):
    """An id prefix names more than one recorded run."""


class ConcurrencyLimitNotFoundError(ParameterError, LookupError):
    """No concurrency limit has the name given."""


class DeploymentNotFoundError(ParameterError, LookupError):
    """No deployment has the name given."""


class VariableNotFoundError(ParameterError, LookupError):
    """No variable has the name given."""


class VariableExistsError(ParameterError, ValueError):
    """A variable of that name exists already, and was not to be overwritten (a
    ``ValueError``, as Prefect raises)."""


class StateRefusedError(PlaitError):
    """The store's state rules refused a state change of run ``run_id``: ``ruling`` (a
    ``plait.state_rules.Ruling``) names the rule and the state the run is in."""

    def __init__(self, message: str, run_id: str, ruling: Any) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.ruling = ruling


class StoreError(PlaitError):
    """The run store cannot be opened or used."""


class SerializationError(PlaitError, ValueError):
    """A result cannot be turned into bytes for storage, or stored bytes cannot be read back."""


class TerminationSignal(BaseException):
    """The process was sent SIGTERM while a flow ran. Like ``KeyboardInterrupt`` it is not an
    ``Exception``: it ends the runs in progress as Crashed instead of being retried."""


class BlockError(PlaitError):
    """A block cannot be saved, loaded or used as asked."""


class BlockNotFoundError(BlockError, LookupError):
    """No saved block (or block type) has the given name."""


class BlockValidationError(BlockError, ValueError):
    """Block field values, given or saved, do not fit the block type's fields."""


class EncryptionKeyError(BlockError):
    """The encryption key for saved secrets is missing, malformed, or not the one they were
    saved with."""

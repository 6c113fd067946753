"""The flow the scheduler benchmark deploys (deployments name their flow by module)."""

from plait import flow


@flow
def hourly() -> None:
    return None

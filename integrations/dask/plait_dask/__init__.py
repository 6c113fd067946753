"""plait-dask: run a flow's tasks on a Dask cluster.

from plait import flow, task
from plait_dask import DaskTaskRunner

@flow(task_runner=DaskTaskRunner())          # a temporary LocalCluster for each flow run
def pipeline(n: int) -> int:
    return sum(square.map(range(n)).result())
"""

from plait_dask.client import get_dask_client
from plait_dask.resources import dask_resources
from plait_dask.runner import DaskTaskRunner

__version__ = "0.1.0"

__all__ = ["DaskTaskRunner", "__version__", "dask_resources", "get_dask_client"]

"""Task runs across flow runs: their names by id (what a listing of upstream runs shows)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from plait.server.routes.flow_runs import RUN_ID_PATTERN, Reader

router = APIRouter(prefix="/task_runs", tags=["task runs"])
MAX_NAMES = 200  # ids per request: the URL stays under the 16 KB a request line may take


@router.get("/names")
def read_task_run_names(
    reader: Reader,
    ids: Annotated[
        list[Annotated[str, Query(pattern=RUN_ID_PATTERN, max_length=36)]],
        Query(alias="id", max_length=MAX_NAMES, description="Task run ids (repeat id=)"),
    ],
) -> dict[str, str]:
    """The names of these task runs, by id (unknown ids are left out)."""
    return reader.read_task_run_names(ids)

"""The process a serving process (or worker) starts for one claimed flow run:
``python -m plait.workers.execute FLOW_RUN_ID``. It runs the flow run and exits 0 if it
completed, 1 if not (its state, recorded, says why), 2 if it could not start it (the run
ends Failed, saying why: its flow could not be imported, say)."""

from __future__ import annotations

import contextlib
import sys

from plait.client import get_client
from plait.engine.retry import start_flow_run
from plait.exceptions import PlaitError
from plait.states import StateType


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m plait.workers.execute FLOW_RUN_ID", file=sys.stderr)
        return 2
    try:
        state = start_flow_run(argv[0])
    except PlaitError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        with contextlib.suppress(PlaitError):  # no such run, say: nothing to mark
            get_client().set_flow_run_state(argv[0], StateType.FAILED, str(exc))
        return 2
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

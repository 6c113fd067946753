"""Following a run's log lines as Server-Sent Events while it runs, over a real uvicorn."""

from __future__ import annotations

import json
import threading
import time

from fixtures.api import DEADLINE_SECONDS

from plait import flow, get_run_logger

release = threading.Event()


@flow
def waits_for_release() -> str:
    logger = get_run_logger()
    logger.info("before the wait")
    assert release.wait(DEADLINE_SECONDS)
    logger.info("after the wait")
    return "done"


def _events(lines):
    """(event, data) pairs from an SSE stream's lines."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def test_a_running_flows_lines_arrive_as_they_are_recorded_then_its_end(api, store):
    release.clear()
    running = threading.Thread(target=waits_for_release)
    running.start()
    try:
        run_id = None
        deadline = time.monotonic() + DEADLINE_SECONDS
        while run_id is None:  # the run is recorded before its body starts
            assert time.monotonic() < deadline, "the flow run was never recorded"
            runs = api.http.get("/flow_runs").json()["items"]
            run_id = runs[0]["id"] if runs else None
        received = []
        with api.http.stream("GET", f"/flow_runs/{run_id}/logs/follow") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event, data in _events(stream.iter_lines()):
                received.append((event, data.get("message", data.get("state"))))
                if data.get("message") == "before the wait":
                    release.set()  # only now may the run go on and end
                if event == "end":
                    break
    finally:
        release.set()
        running.join(DEADLINE_SECONDS)
    messages = [text for event, text in received if event == "log"]
    assert messages.index("before the wait") < messages.index("after the wait")
    assert received[-1] == ("end", "Completed")
    ids = [line["id"] for line in api.http.get(f"/flow_runs/{run_id}/logs").json()]
    assert len(messages) == len(ids)  # every line once

    resumed = api.http.get(f"/flow_runs/{run_id}/logs/follow", params={"after": ids[0]})
    rest = list(_events(resumed.text.splitlines()))  # a finished run's stream ends by itself
    assert [data["id"] for event, data in rest if event == "log"] == ids[1:]
    assert rest[-1] == ("end", {"state": "Completed"})


def test_following_an_unknown_run_is_a_404_before_any_stream(api, store):
    answer = api.http.get("/flow_runs/0123456789ab/logs/follow")
    assert answer.status_code == 404
    assert "No flow run" in answer.json()["detail"]

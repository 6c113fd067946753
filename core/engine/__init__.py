"""The engine: running flows and tasks in the user's process.

A decorated function's call goes ``definition`` (options, parameters) → ``flow_runs`` or
``task_runs`` (a run is created and driven through ``lifecycle``: retries, ``timeouts``,
hooks) → ``submission`` and ``mapping`` (submitted task runs handed to the flow's task
runner once their ``dependencies`` finished) → ``persistence`` (results and the cache
index). Every state change and log line leaves through ``plait.journal``.

May import: the public modules below it (``states``, ``futures``, ``context``, ``logs``,
``caching``, ``results``, ``task_runners``, ``settings``, ``exceptions``), ``plait.journal``
and ``plait.backend``. Never imports ``plait.cli``, ``plait.client`` or ``plait.store``.
Imported by the public modules ``plait.flows`` and ``plait.tasks``, and by ``plait.cli``.
"""

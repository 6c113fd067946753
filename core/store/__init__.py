"""The run store: every flow run, task run, state, log line and task-graph edge, in SQLite
(default, ``$PLAIT_HOME/plait.db``) or PostgreSQL (``PLAIT_DATABASE_URL``).

``database`` connects and migrates, ``schema`` holds the tables, ``writer`` drains the
journal into them, ``crashes`` finds runs whose process died, and ``retention`` deletes old
runs. Reading goes through ``plait.client``. Nothing here is imported by ``import plait``.
"""

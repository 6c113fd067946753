"""Running deployments' flow runs on this machine: the serving process (``flow.serve()``,
``plait.serve()``; ``serving``) that claims due runs and starts each in a subprocess of its
own (``execute``). Work pools, the worker base class and per-deployment environments (``plait
worker start``) come with the workers issue.

May import: ``plait.client``, the public modules, the scheduler (which a serving process runs
when there is no server) and ``plait.engine.retry``'s entry for running a recorded flow run.
Imported by ``plait.deployments.serve`` when called.
"""

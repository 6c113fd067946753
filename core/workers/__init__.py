"""Work pools and workers (``plait worker start``): the worker base class, the process
worker, and per-deployment environments, pulling scheduled work from the server. Filled by
the workers issue.

May import: ``plait.client``, the public modules. Imported by ``plait.cli``.
"""

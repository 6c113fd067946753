"""The dashboard: Jinja2 templates, static files and their routes, served by the API server.
Filled by the dashboard issue.

May import: ``plait.client``. Imported by ``plait.server``.
"""

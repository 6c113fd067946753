"""Automations: triggers and actions evaluated on the event stream, and webhooks that turn
requests into events. Filled by the events issue.

May import: ``plait.client``, the public modules. Imported by ``plait.server``.
"""

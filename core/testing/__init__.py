"""Test kits for integration authors and users' tests.

- ``BlockConformance`` (``plait.testing.blocks``): subclass it to check every block type a
  plugin registers: schema, secrets masked and encrypted at rest, round trips, nested
  blocks. Its module docstring is its reference.
- ``read_apart`` (``plait.testing.files``): read the run store's files from a test without
  dropping this process's SQLite locks on them.

The kits import pytest, so import them only in tests (``import plait`` never imports this).

May import: the public API of ``plait`` and ``plait.blocks``. Imported by tests only.
"""

from plait.testing.blocks import BlockConformance

__all__ = ["BlockConformance"]

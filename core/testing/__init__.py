"""Test kits for integration authors and users' tests.

- ``BlockConformance`` (``plait.testing.blocks``): subclass it to check every block type a
  plugin registers: schema, secrets masked and encrypted at rest, round trips, nested
  blocks. Its module docstring is its reference.
- ``plait_test_harness`` (``plait.testing.harness``): a temporary run store for a test
  session, as Prefect's ``prefect_test_harness``.
- ``read_apart`` (``plait.testing.files``): read the run store's files from a test without
  dropping this process's SQLite locks on them.

The block kit imports pytest, so import these only in tests (``import plait`` never imports
this package).

May import: the public API of ``plait`` and ``plait.blocks``, and (the harness) the journal
and the backend. Imported by tests only.
"""

from plait.testing.blocks import BlockConformance
from plait.testing.harness import plait_test_harness

__all__ = ["BlockConformance", "plait_test_harness"]

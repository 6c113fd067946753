"""An example Plait integration (test fixture)."""

"""Registers plait-dbt with Plait: its block types and the ``run_dbt`` flow. Imports stay
inside the hooks, so loading the plugin does not import dbt."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.util import find_spec
from typing import Any

from plait import hookimpl


@hookimpl
def plait_block_types() -> Sequence[type]:
    from plait_dbt import (
        DbtCliProfile,
        DbtProject,
        DuckDBTargetConfigs,
        PostgresTargetConfigs,
    )

    types: list[type] = [DbtProject, DbtCliProfile, DuckDBTargetConfigs, PostgresTargetConfigs]
    if find_spec("plait_snowflake") is not None:  # the [snowflake] extra
        from plait_dbt.snowflake import SnowflakeTargetConfigs

        types.append(SnowflakeTargetConfigs)
    return types


@hookimpl
def plait_tasks() -> Sequence[Any]:
    from plait_dbt import run_dbt

    return [run_dbt]

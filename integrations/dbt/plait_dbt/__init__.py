"""plait-dbt: run dbt projects as Plait flows, one task run per dbt node, with profiles from
saved blocks.

from plait_dbt import DbtCliProfile, DbtProject, DuckDBTargetConfigs, run_dbt

profile = DbtCliProfile(name="shop", target="dev",
                        target_configs=DuckDBTargetConfigs(path="shop.duckdb"))
result = run_dbt(DbtProject(project_dir="shop", profiles=profile), select="+orders")

``SnowflakeTargetConfigs`` (from ``plait_dbt.snowflake``) needs the ``[snowflake]`` extra.
"""

from typing import Any

from plait_dbt.errors import DbtError, DbtNodeError, DbtRunError
from plait_dbt.flows import run_dbt
from plait_dbt.profiles import (
    DbtCliProfile,
    DuckDBTargetConfigs,
    PostgresTargetConfigs,
    TargetConfigs,
)
from plait_dbt.project import DbtProject
from plait_dbt.results import DbtNodeResult, DbtRunResult

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``SnowflakeTargetConfigs`` imports plait-snowflake, so only when asked for."""
    if name == "SnowflakeTargetConfigs":
        from plait_dbt.snowflake import SnowflakeTargetConfigs

        return SnowflakeTargetConfigs
    raise AttributeError(f"module 'plait_dbt' has no attribute {name!r}")


__all__ = [
    "DbtCliProfile",
    "DbtError",
    "DbtNodeError",
    "DbtNodeResult",
    "DbtProject",
    "DbtRunError",
    "DbtRunResult",
    "DuckDBTargetConfigs",
    "PostgresTargetConfigs",
    "SnowflakeTargetConfigs",
    "TargetConfigs",
    "__version__",
    "run_dbt",
]

"""Finding and calling plugins: installed distributions in the ``plait`` entry-point group.

Plugins are loaded on first use (never at ``import plait``), once per process. A plugin that
fails to import, or whose hook raises, is reported once on the ``plait.plugins`` logger with
its name and the exception, and is skipped; the other plugins keep working.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from plait import hookspecs

logger = logging.getLogger("plait.plugins")


@dataclass
class Plugin:
    """One installed plugin: its entry point, the distribution that declares it, and the
    error that stopped it, if any."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    error: str | None = None
    failed_hooks: set[str] = field(default_factory=set)


class Plugins:
    """Every installed plugin, registered with one pluggy ``PluginManager``."""

    def __init__(self, group: str = hookspecs.PROJECT) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.plugins: list[Plugin] = []
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            self._load(entry_point)

    def _load(self, entry_point: EntryPoint) -> None:
        dist = entry_point.dist
        plugin = Plugin(
            name=entry_point.name,
            module=entry_point.value,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        self.plugins.append(plugin)
        try:
            module = entry_point.load()
            self.manager.register(module, name=entry_point.name)
        except Exception as exc:
            plugin.error = f"{type(exc).__name__}: {exc}"
            logger.warning(
                "Plugin %r (%s, from %s) failed to load and is skipped: %s",
                plugin.name,
                plugin.module,
                plugin.distribution or "an unknown distribution",
                plugin.error,
            )
            return
        unknown = [
            name
            for name in dir(module)
            if self.manager.parse_hookimpl_opts(module, name) is not None
            and not getattr(self.manager.hook, name).has_spec()
        ]
        if unknown:
            logger.warning(
                "Plugin %r marks %s with @hookimpl, but Plait has no such hook (a typo?); "
                "see plait.hookspecs for the hooks.",
                plugin.name,
                ", ".join(unknown),
            )

    def call(self, hook: str, **kwargs: Any) -> list[tuple[Plugin, Any]]:
        """Each working plugin's result for ``hook`` (plugins that do not implement it are
        left out). A plugin whose implementation raises is reported once and left out."""
        results = []
        by_name = {plugin.name: plugin for plugin in self.plugins}
        for impl in reversed(getattr(self.manager.hook, hook).get_hookimpls()):
            plugin = by_name.get(impl.plugin_name)
            if plugin is None:  # registered by hand, not through an entry point
                plugin = Plugin(impl.plugin_name, repr(impl.plugin), None, None)
                self.plugins.append(plugin)
            try:
                value = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                if hook not in plugin.failed_hooks:
                    plugin.failed_hooks.add(hook)
                    logger.warning(
                        "Plugin %r failed in %s and is skipped there: %s: %s",
                        plugin.name,
                        hook,
                        type(exc).__name__,
                        exc,
                    )
                continue
            if value is not None:
                results.append((plugin, value))
        return results


_plugins: Plugins | None = None
_lock = threading.Lock()


def get_plugins() -> Plugins:
    """The installed plugins, loaded on first use."""
    global _plugins
    with _lock:
        if _plugins is None:
            _plugins = Plugins()
        return _plugins

"""Which class handles which block type slug: classes defined in this process, and the
block types installed plugins register through ``plait_block_types``."""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from importlib.metadata import packages_distributions
from typing import TYPE_CHECKING

from plait.exceptions import BlockNotFoundError

if TYPE_CHECKING:
    from plait.backend.documents import BlockDocuments
    from plait.blocks.block import Block
    from plait.plugins import Plugin

_types: dict[str, type[Block]] = {}
_from_plugins: dict[type[Block], Plugin] = {}
_plugins_loaded = False
_lock = threading.Lock()


def register(cls: type[Block]) -> None:
    """Make ``cls`` the class for its slug (called for every concrete block class)."""
    _types[cls.get_block_type_slug()] = cls


def is_concrete(cls: type[Block]) -> bool:
    """Whether ``cls`` can be saved (interfaces such as ``WritableFileSystem`` cannot)."""
    return not inspect.isabstract(cls)


def plugin_block_types() -> dict[type[Block], Plugin]:
    """Every block class that installed plugins register, with the plugin it came from."""
    global _plugins_loaded
    with _lock:
        if not _plugins_loaded:
            from plait.blocks.block import Block
            from plait.plugins import get_plugins

            for plugin, classes in get_plugins().call("plait_block_types"):
                for cls in classes:
                    if isinstance(cls, type) and issubclass(cls, Block) and is_concrete(cls):
                        _from_plugins[cls] = plugin
                        register(cls)
            _plugins_loaded = True
        return dict(_from_plugins)


def all_block_types() -> dict[str, type[Block]]:
    """Every known block class by slug: from plugins, and defined in this process."""
    plugin_block_types()
    return dict(sorted(_types.items()))


def lookup(slug: str, documents: BlockDocuments | None = None) -> type[Block]:
    """The class for ``slug``. When none is installed, the error says which package to
    install, from what the store recorded when the type was last saved."""
    cls = _types.get(slug) or all_block_types().get(slug)
    if cls is not None:
        return cls
    recorded = documents.block_type(slug) if documents is not None else None
    if recorded is None:
        known = ", ".join(all_block_types()) or "none"
        raise BlockNotFoundError(
            f"No block type {slug!r} is installed (known block types: {known}). See "
            "`plait block types`."
        )
    module, _, qualname = recorded.class_path.partition(":")
    if recorded.package:
        fix = f"install its package: pip install {recorded.package}"
    else:
        fix = f"import the module {module!r} (which defines {qualname}) before loading"
    raise BlockNotFoundError(f"Block type {slug!r} is not installed; {fix}.")


def package_of(cls: type[Block]) -> str | None:
    """The distribution that provides ``cls`` (what to ``pip install``), if any."""
    plugin = plugin_block_types().get(cls)
    if plugin is not None and plugin.distribution:
        return plugin.distribution
    top_level = cls.__module__.partition(".")[0]
    if top_level == "__main__" or top_level not in sys.modules:
        return None
    names = _distributions().get(top_level)
    return names[0] if names else None


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return packages_distributions()

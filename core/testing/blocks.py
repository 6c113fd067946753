"""The block conformance kit: check every block type a plugin registers.

Subclass ``BlockConformance`` in your integration's tests (the class name must start with
``Test`` so pytest collects it), name your plugin, and give one or more example instances
of every block type it registers::

    # tests/test_blocks.py of plait-aws
    from plait.testing import BlockConformance
    from plait_aws import AwsCredentials, S3Bucket


    class TestAwsBlocks(BlockConformance):
        plugin = "aws"  # the entry-point name in the `plait` group, or the plugin module
        examples = [
            AwsCredentials(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="wJalr-EXAMPLE"),
            S3Bucket(bucket_name="raw", credentials=AwsCredentials(...)),
        ]

Run it with ``pytest``. Each check is a separate test, run once per example (the test id is
the example's block type slug, e.g. ``test_round_trip[s3-bucket]``), and fails with a
message that names the type and the fix:

- ``test_every_registered_type_has_an_example``: each class the plugin returns from
  ``plait_block_types`` (called through a real pluggy manager, so a hook missing its
  ``@hookimpl`` mark is caught) is a concrete ``Block`` with at least one example.
- ``test_description``: a docstring (or ``_description``).
- ``test_documentation_url``: ``_documentation_url`` is an http(s) URL.
- ``test_code_example``: ``_code_example`` is set and mentions the class name.
- ``test_schema``: ``get_block_schema()`` has a property for every field and lists every
  secret field in ``secret_fields``; ``test_schema_checksum_ignores_field_order``: the
  same fields declared in reverse order give the same checksum.
- ``test_secret_looking_fields_are_secret``: a field named like a credential (``password``,
  ``api_key``, ``access_token``, ``client_secret``, ...) has a secret type (``SecretStr``,
  ``SecretBytes``, ``SecretDict``), not ``str``. List deliberate exceptions in
  ``plain_fields_allowed``.
- ``test_round_trip``: ``save`` then ``load`` (by class, and by ``Block.load("slug/name")``)
  gives a block of the same type with equal values, secrets compared by their values.
- ``test_secrets_masked``: no secret value appears in ``repr()``, ``str()`` or
  ``model_dump_json()``.
- ``test_secrets_encrypted_at_rest``: after saving, no secret value appears anywhere in the
  bytes of the files under ``PLAIT_HOME`` (the SQLite database and its ``-wal`` file).
- ``test_nested_blocks_saved_as_documents``: a nested block is saved as its own (anonymous)
  document that its parent references, and comes back as a block of its type on load;
  ``test_nested_blocks_saved_by_name_are_referenced``: a nested block saved under a name
  first is referenced (not copied), so re-saving it changes the parent.
- ``test_credentials_blocks_implement_check``: every ``CredentialsBlock`` type implements
  ``check()``. (The kit does not call ``check()``: that needs the real service; test it
  against a local server in your own tests.)

Checks that do not apply to an example (no secrets, no nested blocks) are skipped with a
reason. Secret values in the examples should be distinctive (at least 6 characters): the kit
searches for them, and ignores shorter ones.

Examples are copied before each test (and saved state cleared), so they can be shared
module-level objects. The class gives every test a fresh ``PLAIT_HOME`` in pytest's
``tmp_path``, with ``PLAIT_DATABASE_URL`` and ``PLAIT_ENCRYPTION_KEY`` unset: it needs no
set-up and never touches your real store. This module imports pytest, so import it only in
tests (``import plait`` never imports it).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import types
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import pytest
from pydantic import BaseModel

from plait.blocks import Block, CredentialsBlock
from plait.blocks.fields import SECRET_TYPES
from plait.testing.files import read_apart

__all__ = ["BlockConformance"]

SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|passphrase|secret|token|api_?key|access_?key|secret_?key|"
    r"private_?key|client_?secret|credential)$",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 6
SAVE_NAME = "conformance"


def _applies_to(condition: Callable[[Block], str | None]) -> Callable[[Any], Any]:
    """Mark a test to run only for examples where ``condition`` returns None (otherwise it
    returns why the test does not apply)."""

    def mark(function: Any) -> Any:
        function._applies = condition
        return function

    return mark


def _unless(found: Any, reason: str) -> str | None:
    return None if found else reason


class BlockConformance:
    """Pytest checks for block types; subclass it (as ``TestSomething``) and set ``plugin``
    and ``examples``. See the module docstring for the checks."""

    plugin: ClassVar[Any] = None
    """The plugin: its entry-point name in the ``plait`` group (e.g. ``"aws"``), its
    distribution name, or the plugin module itself."""

    examples: ClassVar[Sequence[Block]] = ()
    """Example instances: at least one of every block type the plugin registers."""

    plain_fields_allowed: ClassVar[Sequence[str]] = ()
    """Field names (``name`` or ``slug.name``) that look like secrets but are not (e.g. a
    ``token_type``), exempt from ``test_secret_looking_fields_are_secret``."""

    # -- pytest machinery -------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run each test that takes ``example`` once per example that it applies to."""
        if "example" not in metafunc.fixturenames:
            return
        applies: Callable[[Block], str | None] = getattr(
            metafunc.function, "_applies", lambda _: None
        )
        params, skipped = [], []
        for example in self.examples:
            if not isinstance(example, Block):
                continue  # reported by test_every_registered_type_has_an_example
            reason = applies(example)
            if reason is None:
                params.append(pytest.param(example, id=type(example).get_block_type_slug()))
            else:
                skipped.append(reason)
        if not params:
            reason = "; ".join(dict.fromkeys(skipped)) or (
                f"{type(self).__name__}.examples is empty: give example block instances"
            )
            params = [pytest.param(None, id="none", marks=pytest.mark.skip(reason=reason))]
        metafunc.parametrize("example", params)

    @pytest.fixture(autouse=True)
    def plait_home(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
        """A fresh PLAIT_HOME (SQLite store, key file) for each test, and nothing else
        configured: no PLAIT_DATABASE_URL, no PLAIT_ENCRYPTION_KEY."""
        from plait.backend import close_backends

        home = tmp_path / "plait-home"
        monkeypatch.setenv("PLAIT_HOME", str(home))
        monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
        monkeypatch.delenv("PLAIT_ENCRYPTION_KEY", raising=False)
        yield home
        close_backends()

    # -- the plugin as a whole --------------------------------------------------------------

    def test_every_registered_type_has_an_example(self) -> None:
        registered = _registered_types(self.plugin)
        problems = []
        for cls in registered:
            if not (isinstance(cls, type) and issubclass(cls, Block)):
                problems.append(f"{cls!r} is not a subclass of plait.blocks.Block")
            elif not _is_concrete(cls):
                problems.append(
                    f"{cls.__name__} is abstract (missing {_abstract_methods(cls)}); register "
                    "only concrete block types, not interfaces"
                )
            elif not any(type(example) is cls for example in self.examples):
                problems.append(
                    f"{cls.__name__} ({cls.get_block_type_slug()}) has no example: add an "
                    f"instance, e.g. {cls.__name__}(...), to {type(self).__name__}.examples"
                )
        for example in self.examples:
            if not isinstance(example, Block):
                problems.append(f"example {example!r} is not a block instance")
        assert not problems, _report(f"Plugin {_label(self.plugin)}", problems)
        assert registered, (
            f"Plugin {_label(self.plugin)} registers no block types (plait_block_types)."
        )

    def test_credentials_blocks_implement_check(self) -> None:
        types_ = {type(e) for e in self.examples if isinstance(e, Block)}
        types_.update(
            cls
            for cls in _registered_types(self.plugin)
            if isinstance(cls, type) and issubclass(cls, Block)
        )
        problems = [
            f"{cls.__name__} is a CredentialsBlock but does not implement check(): add a "
            "check() that makes one cheap authenticated call and returns "
            "CheckResult.measure(...)"
            for cls in sorted(types_, key=lambda c: c.__name__)
            if issubclass(cls, CredentialsBlock)
            and (
                getattr(cls.check, "__isabstractmethod__", False)
                or cls.check is CredentialsBlock.check
            )
        ]
        assert not problems, _report("Credentials blocks", problems)

    # -- describing the type ----------------------------------------------------------------

    def test_description(self, example: Block) -> None:
        cls = type(example)
        assert cls.get_description(), (
            f"{cls.__name__} has no description: give the class a docstring (its first "
            "paragraph is the description) or set _description."
        )

    def test_documentation_url(self, example: Block) -> None:
        cls = type(example)
        url = cls.get_documentation_url()
        assert url, (
            f"{cls.__name__} has no documentation URL: set _documentation_url to the page "
            "that documents it (https://...)."
        )
        parts = urlparse(url)
        problem = (
            f"{cls.__name__}._documentation_url is {url!r}, not an http(s) URL; use e.g. "
            "'https://docs.example.com/blocks#mytype'."
        )
        assert parts.scheme in ("http", "https"), problem
        assert parts.netloc, problem

    def test_code_example(self, example: Block) -> None:
        cls = type(example)
        assert (cls._code_example or "").strip(), (
            f"{cls.__name__} has no code example: set _code_example to a short snippet that "
            f"creates, saves or loads a {cls.__name__}."
        )
        code = cls.get_code_example()
        assert re.search(rf"\b{re.escape(cls.__name__)}\b", code), (
            f"{cls.__name__}'s code example does not mention {cls.__name__} (inherited from a "
            f"base class?); set _code_example on {cls.__name__} itself:\n{code}"
        )

    # -- schema -----------------------------------------------------------------------------

    def test_schema(self, example: Block) -> None:
        cls = type(example)
        schema = cls.get_block_schema()
        try:
            json.dumps(schema)
        except (TypeError, ValueError) as exc:
            pytest.fail(f"{cls.__name__}.get_block_schema() is not JSON: {exc}")
        properties = schema.get("properties", {})
        missing = [
            name
            for name, info in cls.model_fields.items()
            if (info.alias or name) not in properties and name not in properties
        ]
        assert not missing, (
            f"{cls.__name__}'s JSON schema has no properties for fields {missing}; "
            "a custom __get_pydantic_json_schema__ or json_schema_extra dropped them."
        )
        assert schema.get("block_type_slug") == cls.get_block_type_slug(), (
            f"{cls.__name__}'s schema names slug {schema.get('block_type_slug')!r}, "
            f"not {cls.get_block_type_slug()!r}."
        )
        secret_values = [
            name for name in cls.model_fields if isinstance(getattr(example, name), SECRET_TYPES)
        ]
        unlisted = sorted(set(secret_values) - set(schema.get("secret_fields", ())))
        assert not unlisted, (
            f"{cls.__name__}'s schema does not list {unlisted} in secret_fields although the "
            "example holds secrets there; annotate them with SecretStr, SecretBytes or "
            "SecretDict (optionally inside Optional/Union)."
        )

    def test_schema_checksum_ignores_field_order(self, example: Block) -> None:
        cls = type(example)
        checksum = cls.get_schema_checksum()
        assert checksum == cls.get_schema_checksum(), (
            f"{cls.__name__}.get_schema_checksum() changes between calls."
        )
        reordered = _reordered(cls)
        assert reordered.get_schema_checksum() == checksum, (
            f"{cls.__name__}'s schema checksum changes when its fields are declared in another "
            "order, so saved documents would look like a new schema version; something in the "
            "schema depends on field order."
        )

    def test_secret_looking_fields_are_secret(self, example: Block) -> None:
        cls = type(example)
        slug = cls.get_block_type_slug()
        allowed = set(self.plain_fields_allowed)
        plain = [
            name
            for name, info in cls.model_fields.items()
            if SECRET_NAME.search(name)
            and name not in allowed
            and f"{slug}.{name}" not in allowed
            and not _mentions(info.annotation, SECRET_TYPES)
            and _mentions(info.annotation, (str, bytes, dict))
        ]
        assert not plain, (
            f"{cls.__name__} keeps {plain} in plain (unencrypted, unmasked) fields, though "
            "their names say they are secrets; annotate them with SecretStr, SecretBytes or "
            "SecretDict. If one is not a secret, add it to plain_fields_allowed."
        )

    # -- saving and loading -----------------------------------------------------------------

    def test_round_trip(self, example: Block) -> None:
        cls = type(example)
        block = _fresh(example)
        block.save(SAVE_NAME)
        loaded = cls.load(SAVE_NAME)
        assert type(loaded) is cls, f"{cls.__name__}.load returned a {type(loaded).__name__}."
        assert _revealed(loaded) == _revealed(block), (
            f"{cls.__name__} saved and loaded again differs from the original:\n"
            f"  saved:  {block!r}\n  loaded: {loaded!r}\n"
            "(a field that does not survive JSON, or a validator that changes values on load)"
        )
        slug = cls.get_block_type_slug()
        by_slug = Block.load(f"{slug}/{SAVE_NAME}")
        assert type(by_slug) is cls, (
            f"Block.load({slug + '/' + SAVE_NAME!r}) gave a {type(by_slug).__name__}, not a "
            f"{cls.__name__}: another block type uses the slug {slug!r}; set _block_type_slug."
        )
        assert _revealed(by_slug) == _revealed(block)

    @_applies_to(lambda e: _unless(_secrets(e), f"{type(e).__name__} holds no secret values"))
    def test_secrets_masked(self, example: Block) -> None:
        cls = type(example)
        secrets = _distinctive_secrets(example)
        for shown, text in [
            ("repr()", repr(example)),
            ("str()", str(example)),
            ("model_dump_json()", example.model_dump_json()),
        ]:
            leaked = [s for s in secrets if _text(s) in text]
            assert not leaked, (
                f"{cls.__name__}'s {shown} shows a secret value ({len(leaked)} of "
                f"{len(secrets)}); keep secrets in SecretStr/SecretBytes/SecretDict fields and "
                "do not override __repr__/__str__ to reveal them."
            )

    @_applies_to(lambda e: _unless(_secrets(e), f"{type(e).__name__} holds no secret values"))
    def test_secrets_encrypted_at_rest(self, example: Block, plait_home: Path) -> None:
        cls = type(example)
        secrets = _distinctive_secrets(example)
        _fresh(example).save(SAVE_NAME)
        files = [path for path in sorted(plait_home.rglob("*")) if path.is_file()]
        assert any(path.name == "plait.db" for path in files), (
            f"No SQLite database in PLAIT_HOME ({plait_home}) after saving {cls.__name__}."
        )
        for path, content in read_apart(files).items():
            for secret in secrets:
                for form in _stored_forms(secret):
                    assert form not in content, (
                        f"A secret value of {cls.__name__} is stored unencrypted in "
                        f"{path.name}; secrets must live in SecretStr/SecretBytes/SecretDict "
                        "fields (never in plain fields, defaults or the description)."
                    )

    @_applies_to(lambda e: _unless(_nested(e), f"{type(e).__name__} holds no nested blocks"))
    def test_nested_blocks_saved_as_documents(self, example: Block) -> None:
        from plait.backend import get_backend

        cls = type(example)
        block = _fresh(example)
        block.save(SAVE_NAME)
        documents = get_backend().block_documents()
        stored = documents.read(cls.get_block_type_slug(), SAVE_NAME)
        nested = _nested(block)
        assert sorted(stored.references) == sorted(json.dumps(p) for p in nested), (
            f"Saving {cls.__name__} stored references {sorted(stored.references)}, expected "
            f"one per nested block at {[_dotted(p) for p in nested]}."
        )
        for path, child in nested.items():
            document = documents.read_id(stored.references[json.dumps(path)])
            assert document.slug == type(child).get_block_type_slug(), (
                f"The document for {cls.__name__}.{_dotted(path)} is a {document.slug}, not a "
                f"{type(child).get_block_type_slug()}."
            )
            assert document.is_anonymous, (
                f"{cls.__name__}.{_dotted(path)} (unsaved) was not saved as an anonymous "
                "document owned by its parent."
            )
        loaded = cls.load(SAVE_NAME)
        for path, child in nested.items():
            value = _at(loaded, path)
            assert type(value) is type(child), (
                f"{cls.__name__}.{_dotted(path)} loaded as {type(value).__name__}, not as a "
                f"{type(child).__name__}."
            )
            assert _revealed(value) == _revealed(child), (
                f"{cls.__name__}.{_dotted(path)} changed in the save/load round trip."
            )

    @_applies_to(lambda e: _unless(_nested(e), f"{type(e).__name__} holds no nested blocks"))
    def test_nested_blocks_saved_by_name_are_referenced(self, example: Block) -> None:
        from plait.backend import get_backend

        cls = type(example)
        block = _fresh(example)
        path, child = next(iter(_nested(block).items()))
        child.save(f"{SAVE_NAME}-nested")
        block.save(SAVE_NAME)
        documents = get_backend().block_documents()
        stored = documents.read(cls.get_block_type_slug(), SAVE_NAME)
        child_id = documents.document_id(type(child).get_block_type_slug(), f"{SAVE_NAME}-nested")
        assert stored.references.get(json.dumps(path)) == child_id, (
            f"{cls.__name__}.{_dotted(path)} holds a block saved by name, but the parent does "
            "not reference that document."
        )
        child.save(f"{SAVE_NAME}-nested", overwrite=True)  # a new version of the same document
        held = _at(cls.load(SAVE_NAME), path)
        assert _revealed(held) == _revealed(child)
        assert (held._saved.name, held._saved.version) == (f"{SAVE_NAME}-nested", 2), (
            f"{cls.__name__}.{_dotted(path)} did not load the latest version of the block "
            f"saved as {SAVE_NAME}-nested (got {held._saved})."
        )


# -- helpers ------------------------------------------------------------------------------


def _resolve_plugin(plugin: Any) -> Any:
    """The plugin module: ``plugin`` itself, or the entry point (by name, then by
    distribution) it names, or the module it names."""
    if plugin is None:
        pytest.fail(
            "Set `plugin` on your BlockConformance subclass: the entry-point name of your "
            'plugin in the `plait` group (e.g. plugin = "aws") or its module.'
        )
    if not isinstance(plugin, str):
        return plugin
    installed = list(entry_points(group="plait"))
    for entry_point in installed:
        if entry_point.name == plugin:
            return entry_point.load()
    for entry_point in installed:
        if entry_point.dist is not None and entry_point.dist.name == plugin:
            return entry_point.load()
    try:
        return import_module(plugin)
    except ModuleNotFoundError as exc:
        if exc.name is None or not f"{plugin}.".startswith(f"{exc.name}."):
            raise  # the module exists; something it imports does not
        names = ", ".join(f"{ep.name} ({ep.value})" for ep in installed) or "none"
        pytest.fail(
            f"No installed plugin {plugin!r} in the `plait` entry-point group (installed: "
            f"{names}). Declare it in pyproject.toml under [project.entry-points.plait] and "
            "reinstall the package (pip install -e .)."
        )


def _registered_types(plugin: Any) -> list[Any]:
    """What the plugin's ``plait_block_types`` returns, called through pluggy (so a hook
    without ``@hookimpl`` counts as missing)."""
    import pluggy

    from plait import hookspecs

    module = _resolve_plugin(plugin)
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    problem = None
    try:
        manager.register(module, name="plugin-under-test")
        manager.check_pending()  # a @hookimpl whose name is not a Plait hook (a typo)
    except pluggy.PluginValidationError as exc:
        problem = f"Plugin {_label(plugin)} has a hook that does not fit Plait's: {exc}"
    if problem:
        pytest.fail(problem)
    results = manager.hook.plait_block_types()
    if not results:
        how = (
            "mark it with @plait.hookimpl"
            if callable(getattr(module, "plait_block_types", None))
            else "define it"
        )
        pytest.fail(
            f"Plugin {_label(plugin)} does not implement the plait_block_types hook; {how} "
            "and return your block classes."
        )
    return [cls for result in results for cls in (result or ())]


def _label(plugin: Any) -> str:
    return repr(getattr(plugin, "__name__", plugin))


def _is_concrete(cls: type) -> bool:
    return not getattr(cls, "__abstractmethods__", None)


def _abstract_methods(cls: type) -> str:
    return ", ".join(sorted(getattr(cls, "__abstractmethods__", ()))) or "nothing"


def _report(what: str, problems: list[str]) -> str:
    return f"{what}:\n" + "\n".join(f"  - {problem}" for problem in problems)


def _mentions(annotation: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, kinds):
        return True
    origin = getattr(annotation, "__origin__", None)
    if isinstance(origin, type) and issubclass(origin, kinds):
        return True
    return any(_mentions(arg, kinds) for arg in getattr(annotation, "__args__", ()))


def _children(value: Any, path: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """Every value inside ``value`` (fields of models, items of dicts and lists), with its
    field path, ``value`` itself first."""
    yield path, value
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _children(getattr(value, name), [*path, name])
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _children(item, [*path, key])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _children(item, [*path, index])


def _nested(block: Block) -> dict[tuple[Any, ...], Block]:
    """The blocks held by ``block`` (not inside other nested blocks), by field path."""
    found: dict[tuple[Any, ...], Block] = {}
    for path, value in _children(block, []):
        inside_another = any(tuple(path[: len(p)]) == p for p in found)
        if path and isinstance(value, Block) and not inside_another:
            found[tuple(path)] = value
    return found


def _at(value: Any, path: Sequence[Any]) -> Any:
    for step in path:
        value = getattr(value, step) if isinstance(value, BaseModel) else value[step]
    return value


def _dotted(path: Sequence[Any]) -> str:
    return ".".join(str(step) for step in path)


def _fresh(block: Block) -> Block:
    """A deep copy of ``block`` that was never saved (nested blocks included), so examples
    shared between tests do not refer to another test's store."""
    copied = copy.deepcopy(block)
    for _, value in _children(copied, []):
        if isinstance(value, Block):
            value._saved = None
    return copied


def _revealed(value: Any) -> Any:
    """``value`` as plain data with secrets revealed and model types named, for comparing."""
    if isinstance(value, SECRET_TYPES):
        return {"$secret": _revealed(value.get_secret_value())}
    if isinstance(value, BaseModel):
        return {
            "$type": f"{type(value).__module__}.{type(value).__qualname__}",
            **{name: _revealed(getattr(value, name)) for name in type(value).model_fields},
        }
    if isinstance(value, dict):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_revealed(item) for item in value]
    return value


def _secrets(block: Block) -> list[str | bytes]:
    """Every secret leaf value (strings and bytes) held by ``block`` and its nested blocks."""
    leaves: list[str | bytes] = []
    for _, value in _children(block, []):
        if isinstance(value, SECRET_TYPES):
            for _, leaf in _children(value.get_secret_value(), []):
                if isinstance(leaf, str | bytes) and leaf:
                    leaves.append(leaf)
    return leaves


def _distinctive_secrets(block: Block) -> list[str | bytes]:
    """The secret values worth searching for: those of at least ``MIN_SECRET_LENGTH``
    characters (a short one, like a two-letter region in a JSON secret, would match by
    chance)."""
    secrets = _secrets(block)
    distinctive = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
    assert distinctive, (
        f"The example {type(block).__name__} holds only secret values shorter than "
        f"{MIN_SECRET_LENGTH} characters; use distinctive values (e.g. 'ex-s3cr3t-123') so "
        "the kit can tell them from other text."
    )
    return distinctive


def _text(secret: str | bytes) -> str:
    return secret if isinstance(secret, str) else repr(secret)[2:-1]


def _stored_forms(secret: str | bytes) -> list[bytes]:
    """How a secret could appear in the database file if it were stored in plain: raw,
    JSON-escaped, and (bytes) base64."""
    if isinstance(secret, bytes):
        return [secret, base64.b64encode(secret)]
    return list(dict.fromkeys([secret.encode(), json.dumps(secret)[1:-1].encode()]))


def _reordered(cls: type[Block]) -> type[Block]:
    """A copy of ``cls`` with its fields declared in reverse order. It is made abstract so
    it is never registered for the slug (it describes the same type)."""
    fields = list(cls.model_fields.items())[::-1]
    namespace: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
        "__annotations__": {name: info.annotation for name, info in fields},
        "model_config": cls.model_config,
        "_block_type_slug": cls.get_block_type_slug(),
        "_block_schema_version": cls.get_block_schema_version(),
        "_description": cls._description,
        "_conformance_copy": abstractmethod(lambda self: None),
        **{name: copy.copy(info) for name, info in fields},
    }
    return types.new_class(cls.__name__, (Block,), exec_body=lambda ns: ns.update(namespace))

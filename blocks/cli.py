"""The ``plait block`` commands (registered by ``plait.blocks.plugin``): block types, saved
blocks, their history and checks, and rotating the encryption key. Secret values are never
printed: they show as ``**********``, and a command that takes one prompts for it hidden."""

from __future__ import annotations

import json
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from rich.text import Text

from plait.blocks import registry
from plait.blocks.block import Block, check_name
from plait.blocks.documents import Parts, split
from plait.blocks.fields import MASK
from plait.cli.render import (
    Output,
    OutputOption,
    console,
    details,
    format_time,
    listing,
    print_json,
    print_table,
)
from plait.exceptions import (
    BlockError,
    BlockNotFoundError,
    BlockValidationError,
    ParameterError,
)

if TYPE_CHECKING:
    from plait.backend.documents import StoredVersion

app = typer.Typer(
    help="Saved blocks: credentials, storage and notifications.", no_args_is_help=True
)

BlockName = Annotated[
    str, typer.Argument(metavar="SLUG/NAME", help="A saved block, e.g. secret/api-token.")
]


def _parse_name(full_name: str) -> tuple[str, str]:
    """``slug/name`` as its two parts."""
    slug, _, name = full_name.rpartition("/")
    if not slug:
        raise ParameterError(
            f"{full_name!r} names no block type: give SLUG/NAME, e.g. secret/{full_name} "
            "(see: plait block ls)."
        )
    return slug, name


@app.command("types")
def list_types(output: OutputOption = Output.TABLE) -> None:
    """Every installed block type: what it is, what it can do, and its package."""
    types_ = [
        {
            "slug": slug,
            "description": cls.get_description(),
            "capabilities": list(cls.get_capabilities()),
            "package": registry.package_of(cls),
            "documentation_url": cls.get_documentation_url(),
        }
        for slug, cls in registry.all_block_types().items()
    ]
    if output is Output.JSON:
        print_json({"block_types": types_})
        return
    table = Table("Slug", "Description", "Capabilities", "Package", "Docs", box=None)
    for entry in types_:
        table.add_row(
            entry["slug"],
            Text(entry["description"]),
            listing(entry["capabilities"]),
            entry["package"] or "-",
            Text(entry["documentation_url"] or "-"),
        )
    print_table(table, whole=("Slug",))


@app.command("ls")
def list_blocks(
    block_type: Annotated[
        str | None, typer.Option("--type", metavar="SLUG", help="Only blocks of this type.")
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Also the anonymous blocks saved inside other blocks."),
    ] = False,
    output: OutputOption = Output.TABLE,
) -> None:
    """Saved blocks, by type then name, with their latest version."""
    from plait.backend import get_backend

    saved = get_backend().block_documents()
    documents = saved.list(block_type, include_anonymous=show_all)
    if not documents and block_type is not None:
        registry.lookup(block_type, saved)  # an unknown type is an error, not "none saved"
    if output is Output.JSON:
        print_json({"blocks": documents})
        return
    if not documents:
        console.print("No saved blocks" + (f" of type {block_type!r}." if block_type else "."))
        return
    table = Table("Block", "Version", "Updated", box=None)
    for document in documents:
        table.add_row(
            Text(f"{document.slug}/{document.name}", style="dim" if document.is_anonymous else ""),
            str(document.version),
            format_time(document.updated),
        )
    print_table(table, whole=("Block",))


@app.command("inspect")
def inspect_block(
    full_name: BlockName,
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="An older version (see: plait block history)."),
    ] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """A saved block's type, version and field values, with secrets masked."""
    slug, name = _parse_name(full_name)
    block = Block.load(f"{slug}/{name}", version)
    cls = type(block)
    assert block._saved is not None  # a loaded block knows where it came from
    if output is Output.JSON:
        parts = split(block)
        fields = {field: _masked(value, [field], parts) for field, value in parts.data.items()}
        print_json(
            {
                "slug": slug,
                "name": name,
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "version": block._saved.version,
                "fields": fields,
            }
        )
        return
    console.print(
        details(
            [
                ("Type", f"{slug} ({cls.__module__}.{cls.__qualname__})"),
                ("Name", name),
                ("Version", str(block._saved.version)),
            ]
        )
    )
    table = Table("Field", "Value", box=None)
    for field, value in _field_rows(block):
        table.add_row(field, Text(value))
    print_table(table, whole=("Field",))


def _field_rows(block: Block, prefix: str = "") -> list[tuple[str, str]]:
    """Each field and its value for display; an unnamed nested block's fields as
    ``field.nested_field`` rows."""
    parts = split(block)
    rows: list[tuple[str, str]] = []
    for field, value in parts.data.items():
        nested = parts.nested.get(json.dumps([field]))
        if nested is not None and _saved_name(nested) is None:
            rows.extend(_field_rows(nested, f"{prefix}{field}."))
            continue
        shown = _masked(value, [field], parts)
        rows.append((f"{prefix}{field}", shown if isinstance(shown, str) else json.dumps(shown)))
    return rows


def _masked(value: Any, path: list[str | int], parts: Parts) -> Any:
    """A field's stored value with each secret replaced by the mask and each nested block by
    its name (or, unnamed, its masked values)."""
    key = json.dumps(path)
    if key in parts.secrets:
        return MASK
    if key in parts.nested:
        nested = parts.nested[key]
        nested_parts = split(nested)
        return _saved_name(nested) or {
            field: _masked(item, [field], nested_parts) for field, item in nested_parts.data.items()
        }
    if isinstance(value, dict):
        return {k: _masked(item, [*path, k], parts) for k, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, [*path, index], parts) for index, item in enumerate(value)]
    return value


def _saved_name(block: Block) -> str | None:
    """``slug/name`` of a block saved under a name; None for an unsaved or anonymous one."""
    saved = block._saved
    return None if saved is None or saved.is_anonymous else f"{saved.slug}/{saved.name}"


@app.command("create")
def create_block(
    slug: Annotated[
        str, typer.Argument(help="The block type, e.g. secret (see: plait block types).")
    ],
    name: Annotated[str, typer.Argument(help="The name to save it under, e.g. prod.")],
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="A field's value: a string, or JSON (--set port=25 --set "
            "'to=[\"a@b.c\"]'); a nested block field takes a saved block's [slug/]name.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Save a new version of an existing block.")
    ] = False,
) -> None:
    """Create a block from --set values and save it. Required secret fields not given are
    prompted for, without echo."""
    from plait.backend import get_backend

    documents = get_backend().block_documents()
    cls = registry.lookup(slug, documents)
    check_name(name)
    if not overwrite and documents.document_id(slug, name) is not None:
        raise BlockError(
            f"A block named {slug}/{name} already exists; pass --overwrite to save a new version "
            "of it (the current one stays in its history)."
        )
    values = dict(_assignment(cls, assignment) for assignment in assignments or [])
    secret_fields = cls.get_block_schema()["secret_fields"]
    for field in secret_fields:
        if field not in values and cls.model_fields[field].is_required():
            values[field] = typer.prompt(f"{field} (secret, not shown)", hide_input=True)
    hidden = [v for field in secret_fields if isinstance(v := values.get(field), str) and v]
    block = _validate(cls, values, hidden)
    version = block.save(name, overwrite=overwrite)
    console.print(f"Saved {slug}/{name} (version {version}).")


def _assignment(cls: type[Block], assignment: str) -> tuple[str, Any]:
    """A ``--set FIELD=VALUE``: the field, and the value (a string, or for a nested block
    field the saved block it names)."""
    field, sep, value = assignment.partition("=")
    if not sep:
        raise ParameterError(f"--set {assignment!r}: expected FIELD=VALUE, e.g. --set port=25.")
    if field not in cls.model_fields:
        raise ParameterError(
            f"--set {field}: {cls.__name__} has no such field; its fields are "
            f"{listing(cls.model_fields)}."
        )
    nested_type = _block_type_of(cls.model_fields[field].annotation)
    if nested_type is None:
        return field, value
    try:
        return field, nested_type.load(value)
    except BlockError as exc:
        raise type(exc)(f"--set {field}: {exc}") from None


def _block_type_of(annotation: Any) -> type[Block] | None:
    """The block class a field holds (``AwsCredentials`` or ``AwsCredentials | None``)."""
    if isinstance(annotation, type) and issubclass(annotation, Block):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        classes = [arg for arg in typing.get_args(annotation) if _block_type_of(arg)]
        return classes[0] if len(classes) == 1 else None
    return None


def _validate(cls: type[Block], values: dict[str, Any], hidden: list[str]) -> Block:
    """``cls`` built from ``values``; a string that does not fit its field is tried again
    parsed as JSON. Errors name each field and its problem, never a value in ``hidden``."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        errors = exc
    failed = {error["loc"][0] for error in errors.errors() if error["loc"]}
    retried = dict(values)
    for field in failed:
        try:
            retried[field] = json.loads(values[field])
        except (KeyError, TypeError, ValueError):
            continue
    if retried != values:
        try:
            return cls.model_validate(retried)
        except ValidationError as exc:
            errors = exc
    problems: dict[str, list[str]] = {}
    for error in errors.errors():
        field = str(error["loc"][0]) if error["loc"] else "(the block)"
        if error["type"] == "missing":
            message = f"required; give it with --set {field}=VALUE"
        else:
            message = error["msg"]
            for secret in hidden:
                message = message.replace(secret, MASK)
        problems.setdefault(field, [])
        if message not in problems[field]:
            problems[field].append(message)
    lines = "".join(f"\n  {field}: {'; '.join(messages)}" for field, messages in problems.items())
    raise BlockValidationError(f"These values do not fit {cls.__name__}:{lines}")


@app.command("delete")
def delete_block(
    full_name: BlockName,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a saved block with all its versions (refused while another block uses it)."""
    from plait.backend import get_backend

    slug, name = _parse_name(full_name)
    documents = get_backend().block_documents()
    if documents.document_id(slug, name) is None:
        raise BlockNotFoundError(f"No saved block {slug}/{name} (see: plait block ls).")
    if not yes:
        typer.confirm(f"Delete block {slug}/{name} and all its versions?", abort=True)
    documents.delete(slug, name)
    console.print(f"Deleted block {slug}/{name}.")


@app.command("history")
def show_history(full_name: BlockName, output: OutputOption = Output.TABLE) -> None:
    """Every saved version of a block, oldest first, with the fields each one changed."""
    from plait.backend import get_backend

    versions = get_backend().block_documents().history(*_parse_name(full_name))
    history = [
        {
            "version": stored.version,
            "saved": stored.created,
            "schema_version": stored.schema_version,
            "changed_fields": None if previous is None else _changed(previous, stored),
        }
        for previous, stored in zip([None, *versions], versions, strict=False)
    ]
    if output is Output.JSON:
        print_json({"versions": history})
        return
    table = Table("Version", "Saved", "Schema version", "Changed fields", box=None)
    for entry in history:
        changed = entry["changed_fields"]
        table.add_row(
            str(entry["version"]),
            format_time(entry["saved"]),
            str(entry["schema_version"]),
            "(first version)" if changed is None else listing(changed),
        )
    console.print(table)


def _changed(before: StoredVersion, after: StoredVersion) -> list[str]:
    """The fields whose value, secret value or referenced block differs between versions."""
    old, new = _by_field(before), _by_field(after)
    return sorted(field for field in old.keys() | new.keys() if old.get(field) != new.get(field))


def _by_field(stored: StoredVersion) -> dict[str, dict[str, Any]]:
    """A version's stored values grouped by the top-level field they belong to."""
    fields: dict[str, dict[str, Any]] = {field: {"": value} for field, value in stored.data.items()}
    for kind, entries in (("secret", stored.secrets), ("reference", stored.references)):
        for path, value in entries.items():
            fields.setdefault(str(json.loads(path)[0]), {})[f"{kind} {path}"] = value
    return fields


@app.command("audit")
def show_audit(full_name: BlockName, output: OutputOption = Output.TABLE) -> None:
    """Every read of a block's secret values through the server: which API key read which
    fields of which version, and when."""
    from plait.backend import get_backend

    slug, name = _parse_name(full_name)
    documents = get_backend().block_documents()
    document_id = documents.document_id(slug, name)
    if document_id is None:
        raise BlockNotFoundError(f"No saved block {slug}/{name} (see: plait block ls).")
    reads = documents.audit(document_id)
    if output is Output.JSON:
        print_json({"reads": reads})
        return
    if not reads:
        console.print(f"No one has read the secret values of {slug}/{name} through the server.")
        return
    table = Table("Read", "API key", "Version", "Fields", box=None)
    for read in reads:
        table.add_row(format_time(read.read), read.reader, str(read.version), listing(read.fields))
    print_table(table, whole=("API key",))


@app.command("check")
def check_block(full_name: BlockName) -> None:
    """Load a block and run its check(): a real round trip that says whether it works.
    Exits with 1 when the check fails."""
    slug, name = _parse_name(full_name)
    block = Block.load(f"{slug}/{name}")
    capabilities = type(block).get_capabilities()
    if "check" not in capabilities:
        raise BlockError(
            f"Block type {slug!r} has no check() (its capabilities: {listing(capabilities)})."
        )
    result = block.check()  # type: ignore[attr-defined]
    status = Text("ok", style="green") if result.ok else Text("failed", style="red")
    console.print(
        Text.assemble(status, f"  {slug}/{name}: {result.message} ({result.latency * 1000:.0f} ms)")
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command("rotate-key")
def rotate_encryption_key() -> None:
    """Re-encrypt every saved secret with a new key. With a key file, a new key is made;
    with PLAIT_ENCRYPTION_KEY, set it to 'NEW_KEY,OLD_KEY' first."""
    from plait.backend import get_backend
    from plait.encryption import ENV_VAR

    count, keyring = get_backend().block_documents().rotate_key()
    versions = "version" if count == 1 else "versions"
    console.print(
        f"Re-encrypted {count} block {versions} with a new key "
        f"(fingerprint {keyring.current_fingerprint}), kept in {keyring.source}.",
        soft_wrap=True,
    )
    if keyring.path is None:
        console.print(f"Every version now uses the first key: set {ENV_VAR} to it alone.")

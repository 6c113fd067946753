"""``plait block`` and ``plait plugins``, run in-process on the real store in a fresh
PLAIT_HOME: secrets are saved, masked and never printed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr, field_validator
from typer.testing import CliRunner

from plait.blocks import Block, CheckResult, CredentialsBlock, Secret
from plait.blocks.fields import MASK
from plait.cli import app
from plait.encryption import fingerprint
from plait.plugins import Plugin, get_plugins
from plait.settings import load_settings

runner = CliRunner()

TOKEN = "tok-9f2c7e1d-good"
OTHER_TOKEN = "tok-41b0aa3e-rotated"


def plait(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input, env={"COLUMNS": "220"})


class CliCredentials(CredentialsBlock):
    """Credentials for the CLI test service."""

    username: str
    token: SecretStr
    port: int = 443

    @field_validator("token", mode="before")
    @classmethod
    def _no_spaces(cls, value: Any) -> Any:
        if isinstance(value, str) and " " in value:
            raise ValueError(f"token {value!r} has a space")  # quotes the secret, on purpose
        return value

    def check(self) -> CheckResult:
        return CheckResult.measure(self._log_in)

    def _log_in(self) -> str:
        if self.token.get_secret_value() != TOKEN:
            raise PermissionError("token rejected")
        return f"logged in as {self.username}"


class CliMailer(Block):
    """Sends mail through the CLI test service."""

    credentials: CliCredentials
    to_addresses: list[str] = []


def saved_credentials(name: str = "prod", token: str = TOKEN) -> CliCredentials:
    credentials = CliCredentials(username="ada", token=token)
    credentials.save(name)
    return credentials


def line_of(output: str, start: str) -> str:
    """The first line of ``output`` that starts with ``start``, without its padding."""
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(start))


def test_types_lists_every_block_type_with_capabilities_and_package():
    result = plait("block", "types")
    assert result.exit_code == 0, result.output
    assert "local-file-system" in result.output
    secret = line_of(result.output, "secret ")
    assert "check" in secret
    assert " plait " in secret
    assert Secret.get_documentation_url() in secret
    assert "check" in line_of(result.output, "cli-credentials")


def test_create_prompts_for_a_secret_and_never_prints_it():
    result = plait(
        "block", "create", "cli-credentials", "prod", "--set", "username=ada", "--set", "port=8443",
        input=f"{TOKEN}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "token (secret, not shown)" in result.output
    assert "Saved cli-credentials/prod (version 1)" in result.output
    assert TOKEN not in result.output
    loaded = CliCredentials.load("prod")
    assert loaded.token.get_secret_value() == TOKEN
    assert (loaded.username, loaded.port) == ("ada", 8443)

    again = plait("block", "create", "cli-credentials", "prod", "--set", f"token={TOKEN}")
    assert again.exit_code == 1
    assert "already exists; pass --overwrite" in again.output
    overwritten = plait(
        "block", "create", "cli-credentials", "prod", "--set", "username=bob",
        "--set", f"token={OTHER_TOKEN}", "--overwrite",
    )  # fmt: skip
    assert overwritten.exit_code == 0, overwritten.output
    assert "(version 2)" in overwritten.output
    assert OTHER_TOKEN not in overwritten.output
    assert CliCredentials.load("prod").token.get_secret_value() == OTHER_TOKEN


def test_create_parses_json_values_and_loads_saved_nested_blocks():
    credentials = saved_credentials()
    result = plait(
        "block", "create", "cli-mailer", "team", "--set", "credentials=prod",
        "--set", 'to_addresses=["a@b.c", "d@e.f"]',
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mailer = CliMailer.load("team")
    assert mailer.to_addresses == ["a@b.c", "d@e.f"]
    assert mailer.credentials == credentials
    assert mailer.credentials._saved.name == "prod"

    by_slug = plait(
        "block", "create", "cli-mailer", "ops", "--set", "credentials=cli-credentials/prod"
    )
    assert by_slug.exit_code == 0, by_slug.output
    missing = plait("block", "create", "cli-mailer", "dev", "--set", "credentials=nope")
    assert missing.exit_code == 1
    assert "--set credentials: No saved block cli-credentials/nope" in missing.output


def test_create_with_bad_values_names_each_field_and_hides_the_secret():
    result = plait(
        "block", "create", "cli-credentials", "prod", "--set", "port=many",
        "--set", f"token={TOKEN}",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "port: Input should be a valid integer" in result.output
    assert "username: required; give it with --set username=VALUE" in result.output
    assert TOKEN not in result.output
    assert not CliCredentials.list()

    leaky = plait("block", "create", "cli-credentials", "prod", "--set", "token=open sesame")
    assert leaky.exit_code == 1
    assert f"token: Value error, token '{MASK}' has a space" in leaky.output
    assert "sesame" not in leaky.output

    unknown = plait("block", "create", "cli-credentials", "prod", "--set", "colour=red")
    assert unknown.exit_code == 1
    assert "--set colour: CliCredentials has no such field" in unknown.output
    malformed = plait("block", "create", "cli-credentials", "prod", "--set", "port")
    assert malformed.exit_code == 1
    assert "expected FIELD=VALUE" in malformed.output


def test_unknown_slug_is_one_line_error():
    for args in (("create", "nope", "x"), ("inspect", "nope/x"), ("check", "nope/x")):
        result = plait("block", *args)
        assert result.exit_code == 1
        [line] = result.output.strip().splitlines()
        assert line.startswith("Error: No block type 'nope' is installed (known block types: ")
        assert line.endswith("See `plait block types`.")


def test_ls_shows_named_blocks_and_anonymous_ones_with_all():
    assert "No saved blocks." in plait("block", "ls").output
    saved_credentials()
    CliMailer(credentials=CliCredentials(username="eve", token=TOKEN)).save("inline")
    result = plait("block", "ls")
    assert result.exit_code == 0, result.output
    assert "cli-credentials/prod" in result.output
    assert "cli-mailer/inline" in result.output
    assert "anonymous-" not in result.output
    everything = plait("block", "ls", "--all")
    assert "cli-credentials/anonymous-" in everything.output
    only_mailers = plait("block", "ls", "--type", "cli-mailer")
    assert "cli-mailer/inline" in only_mailers.output
    assert "cli-credentials/prod" not in only_mailers.output
    known_but_none_saved = plait("block", "ls", "--type", "secret")
    assert known_but_none_saved.exit_code == 0
    assert "No saved blocks of type 'secret'." in known_but_none_saved.output
    unknown = plait("block", "ls", "--type", "nosuch")
    assert unknown.exit_code == 1
    assert "No block type 'nosuch' is installed" in unknown.output
    assert "Traceback" not in unknown.output


def test_inspect_masks_secrets_and_names_nested_blocks():
    saved_credentials()
    CliMailer(credentials=CliCredentials.load("prod"), to_addresses=["a@b.c"]).save("team")
    CliMailer(credentials=CliCredentials(username="eve", token=TOKEN)).save("inline")

    result = plait("block", "inspect", "cli-credentials/prod")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert line_of(result.output, "token").split() == ["token", MASK]
    assert line_of(result.output, "username").split() == ["username", "ada"]
    assert "CliCredentials" in line_of(result.output, "Type")

    team = plait("block", "inspect", "cli-mailer/team")
    assert line_of(team.output, "credentials").split() == ["credentials", "cli-credentials/prod"]
    assert '["a@b.c"]' in team.output
    inline = plait("block", "inspect", "cli-mailer/inline")
    assert TOKEN not in inline.output
    assert line_of(inline.output, "credentials.token").split() == ["credentials.token", MASK]
    assert line_of(inline.output, "credentials.username").split()[-1] == "eve"

    CliCredentials(username="bob", token=OTHER_TOKEN).save("prod", overwrite=True)
    first = plait("block", "inspect", "cli-credentials/prod", "--version", "1")
    assert line_of(first.output, "Version").split() == ["Version", "1"]
    assert line_of(first.output, "username").split() == ["username", "ada"]
    no_slug = plait("block", "inspect", "prod")
    assert no_slug.exit_code == 1
    assert "give SLUG/NAME" in no_slug.output


def as_json(*args: str) -> Any:
    result = plait(*args, "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_output_lists_blocks_and_never_holds_a_secret():
    saved_credentials()
    CliMailer(credentials=CliCredentials(username="eve", token=OTHER_TOKEN)).save("inline")
    CliMailer(credentials=CliCredentials.load("prod")).save("team")

    inline = plait("block", "inspect", "cli-mailer/inline", "--output", "json")
    assert OTHER_TOKEN not in inline.output
    document = json.loads(inline.stdout)
    assert (document["slug"], document["name"], document["version"]) == ("cli-mailer", "inline", 1)
    assert document["fields"]["credentials"] == {"username": "eve", "token": MASK, "port": 443}
    credentials = as_json("block", "inspect", "cli-credentials/prod")
    assert credentials["fields"] == {"username": "ada", "token": MASK, "port": 443}
    assert as_json("block", "inspect", "cli-mailer/team")["fields"]["credentials"] == (
        "cli-credentials/prod"
    )

    listed = as_json("block", "ls", "--all")["blocks"]
    named = [(entry["slug"], entry["name"]) for entry in listed if not entry["is_anonymous"]]
    assert named == [("cli-credentials", "prod"), ("cli-mailer", "inline"), ("cli-mailer", "team")]
    assert all(datetime.fromisoformat(entry["updated"]).tzinfo for entry in listed)
    for args in (("block", "ls", "--all"), ("block", "history", "cli-credentials/prod")):
        assert TOKEN not in plait(*args, "--output", "json").output
    assert as_json("block", "history", "cli-credentials/prod")["versions"][0]["version"] == 1
    slugs = [entry["slug"] for entry in as_json("block", "types")["block_types"]]
    assert "cli-credentials" in slugs


def test_history_lists_versions_and_the_fields_each_changed():
    saved_credentials()
    CliCredentials(username="ada", token=OTHER_TOKEN, port=8443).save("prod", overwrite=True)
    CliCredentials(username="bob", token=OTHER_TOKEN, port=8443).save("prod", overwrite=True)
    result = plait("block", "history", "cli-credentials/prod")
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    assert OTHER_TOKEN not in result.output
    assert "(first version)" in line_of(result.output, "1 ")
    assert line_of(result.output, "2 ").endswith("port, token")
    assert line_of(result.output, "3 ").endswith("username")


def test_delete_asks_first_and_refuses_a_block_in_use():
    saved_credentials()
    refused = plait("block", "delete", "cli-credentials/prod", input="n\n")
    assert refused.exit_code == 1
    assert CliCredentials.list() == ["prod"]
    confirmed = plait("block", "delete", "cli-credentials/prod", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert CliCredentials.list() == []

    saved_credentials()
    CliMailer(credentials=CliCredentials.load("prod")).save("team")
    in_use = plait("block", "delete", "cli-credentials/prod", "--yes")
    assert in_use.exit_code == 1
    assert "is used by cli-mailer/team" in in_use.output
    assert plait("block", "delete", "cli-mailer/team", "--yes").exit_code == 0
    assert plait("block", "delete", "cli-credentials/prod", "--yes").exit_code == 0
    gone = plait("block", "delete", "cli-credentials/prod", "--yes")
    assert gone.exit_code == 1
    assert "No saved block cli-credentials/prod" in gone.output


def test_check_reports_ok_or_failure_with_latency():
    saved_credentials()
    result = plait("block", "check", "cli-credentials/prod")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok  cli-credentials/prod: logged in as ada (")
    assert result.output.rstrip().endswith(" ms)")

    saved_credentials("stale", token=OTHER_TOKEN)
    failed = plait("block", "check", "cli-credentials/stale")
    assert failed.exit_code == 1
    assert failed.output.startswith(
        "failed  cli-credentials/stale: PermissionError: token rejected"
    )
    assert OTHER_TOKEN not in failed.output

    CliMailer(credentials=CliCredentials.load("prod")).save("team")
    no_check = plait("block", "check", "cli-mailer/team")
    assert no_check.exit_code == 1
    assert "Block type 'cli-mailer' has no check()" in no_check.output


def test_rotate_key_re_encrypts_and_blocks_still_load():
    saved_credentials()
    Secret(value="s3cr3t").save("api")
    key_file = load_settings().home / "encryption.key"
    old_key = key_file.read_bytes().strip()

    result = plait("block", "rotate-key")
    assert result.exit_code == 0, result.output
    new_key = key_file.read_bytes().strip()
    assert new_key != old_key
    assert "Re-encrypted 2 block versions" in result.output
    assert fingerprint(new_key) in result.output
    assert str(key_file) in result.output
    assert new_key.decode() not in result.output
    assert CliCredentials.load("prod").token.get_secret_value() == TOKEN
    assert Secret.load("api").get() == "s3cr3t"


def test_rotate_key_with_the_environment_variable_moves_to_its_first_key(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", old)
    saved_credentials()
    one_key = plait("block", "rotate-key")
    assert one_key.exit_code == 1
    assert "To rotate, set it to 'NEW_KEY,OLD_KEY'" in one_key.output

    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", f"{new},{old}")
    result = plait("block", "rotate-key")
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 1 block version with a new key" in result.output
    assert fingerprint(new.encode()) in result.output
    assert "set PLAIT_ENCRYPTION_KEY to it alone" in result.output
    assert new not in result.output
    assert old not in result.output
    monkeypatch.setenv("PLAIT_ENCRYPTION_KEY", new)
    assert CliCredentials.load("prod").token.get_secret_value() == TOKEN


def test_plugins_ls_lists_each_plugin_and_one_that_failed(monkeypatch):
    plugins = get_plugins()
    broken = Plugin("broken", "plait_broken.plugin", "plait-broken", "0.1.0", error="boom")
    monkeypatch.setattr(plugins, "plugins", [*plugins.plugins, broken])
    result = plait("plugins", "ls")
    assert result.exit_code == 0, result.output
    standard = line_of(result.output, "standard-blocks")
    assert standard.split()[1] == "plait"
    assert "secret" in standard
    assert "local-file-system" in standard
    assert standard.split()[-1] == "ok"
    assert line_of(result.output, "broken").split()[1:] == [
        "plait-broken", "0.1.0", "-", "-", "-", "-", "failed", "to", "load:", "boom",
    ]  # fmt: skip


def test_plugins_ls_and_config_show_print_json_for_scripts():
    plugins = {entry["name"]: entry for entry in as_json("plugins", "ls")["plugins"]}
    example = plugins["example"]
    assert example["distribution"] == "plait-example"
    assert example["block_types"] == ["example-credentials", "example-bucket"]
    assert example["error"] is None
    settings = as_json("config", "show")["settings"]
    assert settings["home"] == {"value": str(load_settings().home), "source": "env PLAIT_HOME"}
    assert settings["persist_runs"]["value"] is True

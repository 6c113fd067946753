"""Plugins: the installed example integration is found through its entry point and every one
of its hooks works; a broken plugin is reported once and never breaks the others; a saved
block whose package is missing says what to install."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fixtures.servers import QuietHandler, serving
from typer.testing import CliRunner

from plait import ThreadPoolTaskRunner, flow
from plait.blocks import Block, LocalFileSystem, Secret, WritableFileSystem, registry
from plait.plugins import Plugins, get_plugins
from plait_example import plugin as example_plugin
from plait_example.blocks import ExampleBucket, ExampleCredentials
from plait_example.tasks import upload_text

GOOD_KEY = "ex-good-key-123456"


def _example(plugins: Plugins):
    [found] = [p for p in plugins.plugins if p.name == "example"]
    return found


def _results(plugins: Plugins, hook: str) -> dict[str, object]:
    return {plugin.name: value for plugin, value in plugins.call(hook)}


# -- discovery and hooks --------------------------------------------------------------------


def test_the_installed_example_plugin_is_found_through_its_entry_point():
    plugins = Plugins()
    example = _example(plugins)
    assert (example.distribution, example.version) == ("plait-example", "0.3.0")
    assert (example.module, example.error) == ("plait_example.plugin", None)
    assert plugins.manager.get_plugin("example") is example_plugin
    assert _results(plugins, "plait_block_types")["example"] == [ExampleCredentials, ExampleBucket]
    assert _results(plugins, "plait_tasks")["example"] == [upload_text]
    runners = _results(plugins, "plait_task_runners")["example"]
    assert runners == {"example-threads": ThreadPoolTaskRunner}
    assert {"standard-blocks", "example"} <= set(_results(plugins, "plait_result_storage"))


def test_plugin_block_types_load_by_slug_and_name_their_package(tmp_path):
    assert registry.plugin_block_types()[ExampleCredentials].name == "example"
    assert registry.package_of(ExampleBucket) == "plait-example"
    credentials = ExampleCredentials(endpoint="http://127.0.0.1:1", api_key=GOOD_KEY)
    credentials.save("prod")
    ExampleBucket(folder=str(tmp_path), credentials=credentials).save("raw")

    loaded = Block.load("example-credentials/prod")
    assert type(loaded) is ExampleCredentials
    assert loaded.api_key.get_secret_value() == GOOD_KEY
    bucket = Block.load("example-bucket/raw")
    assert isinstance(bucket, WritableFileSystem)
    assert bucket.credentials.api_key.get_secret_value() == GOOD_KEY
    assert sorted(Block.list()) == ["example-bucket/raw", "example-credentials/prod"]


@pytest.fixture
def whoami_server() -> Iterator[str]:
    """A real HTTP server: ``GET /whoami`` answers 200 for ``Bearer GOOD_KEY``, else 401."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            authorized = self.headers.get("Authorization") == f"Bearer {GOOD_KEY}"
            status = 404 if self.path != "/whoami" else 200 if authorized else 401
            self.send_json(status, {"user": "ada"} if status == 200 else {"error": status})

    with serving(Handler) as url:
        yield url


def test_credentials_check_makes_a_real_round_trip(whoami_server, closed_port):
    good = ExampleCredentials(endpoint=whoami_server, api_key=GOOD_KEY).check()
    assert good.ok, good.message
    assert '"user": "ada"' in good.message
    assert good.latency > 0

    wrong_key = "ex-wrong-key-987654"
    refused = ExampleCredentials(endpoint=whoami_server + "/", api_key=wrong_key).check()
    assert not refused.ok
    assert "401 Unauthorized" in refused.message
    assert wrong_key not in refused.message

    closed = ExampleCredentials(endpoint=f"http://127.0.0.1:{closed_port}", api_key=GOOD_KEY)
    result = closed.check()
    assert not result.ok
    assert result.message.startswith("ConnectError")
    assert GOOD_KEY not in result.message


def test_the_prebuilt_task_runs_in_a_flow(tmp_path, recorder):
    @flow
    def publish(folder: str) -> str:
        credentials = ExampleCredentials(endpoint="http://127.0.0.1:1", api_key=GOOD_KEY)
        bucket = ExampleBucket(folder=folder, credentials=credentials)
        return upload_text(bucket, "reports/today.txt", "hello")

    written = publish(str(tmp_path))
    assert Path(written) == tmp_path / "reports" / "today.txt"
    assert (tmp_path / "reports" / "today.txt").read_text() == "hello"
    [flow_run] = recorder.flow_runs()
    [task_run] = recorder.task_runs(flow_run.id)
    assert (task_run.name, task_run.state) == ("upload_text-0", "Completed")


def test_result_storage_schemes_give_writable_file_systems(tmp_path):
    schemes = {}
    for _, mapping in get_plugins().call("plait_result_storage"):
        schemes.update(mapping)
    assert {"file", "example"} <= set(schemes)

    local = schemes["file"](f"file://{tmp_path}/local")
    assert isinstance(local, LocalFileSystem)

    ExampleCredentials(endpoint="http://127.0.0.1:1", api_key=GOOD_KEY).save("results")
    bucket = schemes["example"](f"example://results{tmp_path}/bucket")
    assert isinstance(bucket, ExampleBucket)
    assert bucket.credentials.api_key.get_secret_value() == GOOD_KEY
    bucket.write_path("run-1/result.pickle", b"\x80\x05data")
    assert bucket.read_path("run-1/result.pickle") == b"\x80\x05data"
    assert bucket.exists("run-1/result.pickle")
    assert bucket.list() == ["run-1/result.pickle"]
    with pytest.raises(ValueError, match="example://CREDENTIALS-BLOCK-NAME/folder/path"):
        schemes["example"]("example:///no/credentials")


def test_the_plugin_adds_a_cli_command():
    from plait.cli import app

    result = CliRunner().invoke(app, ["example", "hello", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, Ada! (plait-example 0.3.0)\n"

    fresh = typer.Typer()
    fresh.command()(lambda: None)
    example_plugin.plait_cli(fresh)
    result = CliRunner().invoke(fresh, ["example", "hello"])
    assert (result.exit_code, result.output) == (0, "Hello, world! (plait-example 0.3.0)\n")


# -- broken plugins -------------------------------------------------------------------------


def _fake_distribution(
    root: Path, name: str, entry_points: str, modules: dict[str, str], version: str = "1.0"
) -> None:
    """An installed distribution, the way pip leaves one: a dist-info folder beside its
    modules, on a sys.path entry."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def plugin_warnings() -> Iterator[list[logging.LogRecord]]:
    """What the ``plait.plugins`` logger reports."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("plait.plugins")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_a_broken_plugin_is_reported_once_and_the_others_still_work(
    tmp_path, monkeypatch, plugin_warnings
):
    _fake_distribution(
        tmp_path,
        "plait-broken",
        "[plait]\nbroken = plait_broken_mod\n",
        {"plait_broken_mod": 'raise ImportError("plait_broken_mod needs libbroken.so")\n'},
    )
    _fake_distribution(
        tmp_path,
        "plait-raising",
        "[plait]\nraising = plait_raising_mod\n",
        {
            "plait_raising_mod": """
                from plait import hookimpl

                @hookimpl
                def plait_block_types():
                    raise RuntimeError("raising plugin cannot list its blocks")

                @hookimpl
                def plait_task_runners():
                    return {"raising-runner": object}
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("plait_broken_mod", "plait_raising_mod"):
        monkeypatch.delitem(sys.modules, module, raising=False)

    plugins = Plugins()
    for _ in range(3):
        block_types = _results(plugins, "plait_block_types")
        runners = _results(plugins, "plait_task_runners")

    by_name = {plugin.name: plugin for plugin in plugins.plugins}
    assert {"broken", "raising", "example", "standard-blocks"} <= set(by_name)
    assert by_name["broken"].distribution == "plait-broken"
    assert by_name["broken"].error == "ImportError: plait_broken_mod needs libbroken.so"
    assert by_name["raising"].error is None
    assert by_name["raising"].failed_hooks == {"plait_block_types"}

    messages = [record.getMessage() for record in plugin_warnings]
    broken = [m for m in messages if "'broken'" in m]
    raising = [m for m in messages if "'raising'" in m]
    assert len(broken) == 1, messages
    assert "plait-broken" in broken[0]
    assert "ImportError: plait_broken_mod needs libbroken.so" in broken[0]
    assert len(raising) == 1, messages
    assert "plait_block_types" in raising[0]
    assert "RuntimeError: raising plugin cannot list its blocks" in raising[0]
    assert len(messages) == 2, messages

    assert Secret in block_types["standard-blocks"]
    assert block_types["example"] == [ExampleCredentials, ExampleBucket]
    assert "raising" not in block_types
    assert runners["raising"] == {"raising-runner": object}
    assert runners["example"] == {"example-threads": ThreadPoolTaskRunner}


def test_a_misspelled_hook_is_reported(tmp_path, monkeypatch, plugin_warnings):
    _fake_distribution(
        tmp_path,
        "plait-typo",
        "[plait]\ntypo = plait_typo_mod\n",
        {
            "plait_typo_mod": """
                from plait import hookimpl

                @hookimpl
                def plait_block_type():
                    return []
            """
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "plait_typo_mod", raising=False)
    plugins = Plugins()
    [warning] = [r.getMessage() for r in plugin_warnings if "'typo'" in r.getMessage()]
    assert "marks plait_block_type with @hookimpl, but Plait has no such hook" in warning
    assert {"example", "standard-blocks"} <= {p.name for p in plugins.plugins if p.error is None}


def test_loading_a_block_whose_package_is_gone_says_what_to_install(tmp_path):
    fake = tmp_path / "site"
    _fake_distribution(
        fake,
        "plait-tmpplugin",
        "[plait]\ntmpplugin = plait_tmpplugin\n",
        {
            "plait_tmpplugin": '''
                from pydantic import SecretStr

                from plait import hookimpl
                from plait.blocks import Block


                class TmpToken(Block):
                    """A token from a package that will be uninstalled."""

                    token: SecretStr


                @hookimpl
                def plait_block_types():
                    return [TmpToken]
            '''
        },
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    save = (
        "from plait_tmpplugin import TmpToken\n"
        "TmpToken(token='tmp-s3cr3t-token').save('one')\n"
        "from plait.blocks import Block\n"
        "assert Block.load('tmp-token/one').token.get_secret_value() == 'tmp-s3cr3t-token'\n"
    )
    saved = subprocess.run(
        [sys.executable, "-c", save],
        env={**env, "PYTHONPATH": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert saved.returncode == 0, saved.stderr

    load = "from plait.blocks import Block\nBlock.load('tmp-token/one')\n"
    missing = subprocess.run(
        [sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode != 0
    last_line = missing.stderr.strip().splitlines()[-1]
    assert last_line == (
        "plait.exceptions.BlockNotFoundError: Block type 'tmp-token' is not installed; "
        "install its package: pip install plait-tmpplugin."
    )

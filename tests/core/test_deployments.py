"""Building a deployment: its schedules from the shortcuts or a list, its parameters checked
against the flow's signature and type hints (by the JSON schema it keeps, so a process
without the flow's code checks them the same way), every bad option refused by name."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import BaseModel, SecretStr

from plait import InvalidOptionError, ParameterError, flow
from plait.schedules import Cron, Interval, RRule


@flow
def nightly(day: date, region: str = "eu", limit: int = 100) -> str:
    return f"{day} {region} {limit}"


@flow
def untyped(source, retries=3) -> None:
    return None


class Opaque:
    """A parameter type JSON schema cannot describe."""


class Target(BaseModel):
    table: str
    rows: int = 0


@flow
def copy(source: Target, dest: Target | None = None) -> None:
    return None


@flow
def open_ended(day: str, **options) -> None:
    return None


@flow
def takes_opaque(thing: Opaque | None = None, n: int = 1) -> None:
    return None


def test_a_deployment_names_its_flow_and_keeps_its_schedule_and_parameters():
    deployment = nightly.to_deployment(
        "nightly", cron="0 2 * * *", timezone="Europe/Berlin",
        parameters={"day": date(2026, 12, 1)}, tags=["etl"], description="Every night",
        version="1.2", concurrency_limit=1, collision="cancel_new", catchup="all",
    )  # fmt: skip

    assert (deployment.name, deployment.flow_name) == ("nightly", "nightly")
    assert deployment.entrypoint == f"{__name__}:nightly"
    assert deployment.schedules == (Cron("0 2 * * *", timezone="Europe/Berlin"),)
    assert deployment.parameters == {"day": "2026-12-01"}, "kept as JSON"
    assert (deployment.tags, deployment.description, deployment.version) == (
        ("etl",), "Every night", "1.2",
    )  # fmt: skip
    assert (deployment.concurrency_limit, deployment.collision, deployment.catchup) == (
        1, "cancel_new", "all",
    )  # fmt: skip


DAY = {"day": "2026-12-01"}


def test_the_shortcuts_make_one_schedule_and_schedules_makes_several():
    every = nightly.to_deployment(
        "every-30m", interval=timedelta(minutes=30), anchor_date=datetime(2026, 1, 1, 0, 15),
        parameters=DAY,
    )  # fmt: skip
    assert every.schedules == (Interval(1800, anchor_date=datetime(2026, 1, 1, 0, 15)),)
    weekly = nightly.to_deployment(
        "weekly", rrule="FREQ=WEEKLY;BYDAY=MO", timezone="Asia/Tokyo", parameters=DAY
    )
    assert weekly.schedules == (RRule("FREQ=WEEKLY;BYDAY=MO", timezone="Asia/Tokyo"),)
    several = nightly.to_deployment(
        "regions",
        schedules=[
            Cron("0 2 * * *", parameters={"region": "eu", **DAY}),
            Cron("0 8 * * *", parameters={"region": "us"}, active=False),
        ],
    )
    assert [s.parameters["region"] for s in several.schedules] == ["eu", "us"]
    assert nightly.to_deployment("on-request").schedules == ()


def test_an_active_schedule_must_give_every_required_parameter():
    with pytest.raises(ParameterError, match=r"requires 'day'"):
        nightly.to_deployment("nightly", cron="0 2 * * *")
    paused = Cron("0 2 * * *", active=False)
    assert nightly.to_deployment("nightly", schedules=[paused]).schedules == (paused,)


def test_the_parameter_schema_describes_the_flows_signature():
    schema = nightly.to_deployment("nightly").parameter_schema

    assert schema["required"] == ["day"]
    assert schema["properties"]["day"] == {
        "title": "day", "position": 0, "type": "string", "format": "date",
    }  # fmt: skip
    assert schema["properties"]["limit"] == {
        "title": "limit", "position": 2, "type": "integer", "default": 100,
    }  # fmt: skip
    untyped_schema = untyped.to_deployment("untyped").parameter_schema
    assert untyped_schema["properties"]["source"] == {"title": "source", "position": 0}
    opaque = takes_opaque.to_deployment("opaque").parameter_schema["properties"]
    assert opaque["thing"] == {"title": "thing", "position": 0, "default": None}


def test_a_run_gets_the_deployments_then_the_schedules_then_its_own_parameters():
    schedule = Cron("0 8 * * *", parameters={"region": "us"})
    deployment = nightly.to_deployment(
        "nightly", schedules=[schedule], parameters={"day": "2026-12-01", "region": "eu"}
    )

    assert deployment.run_parameters() == {"day": "2026-12-01", "region": "eu"}
    assert deployment.run_parameters(schedule=schedule)["region"] == "us"
    assert deployment.run_parameters({"limit": 5}, schedule) == {
        "day": "2026-12-01", "region": "us", "limit": 5,
    }  # fmt: skip


def test_a_run_missing_a_required_parameter_is_refused_before_it_is_created():
    deployment = nightly.to_deployment("nightly")
    with pytest.raises(ParameterError, match=r"requires 'day'.*-p day="):
        deployment.run_parameters()


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"dya": "2026-12-01"}, r"'dya' is not a parameter of flow 'nightly' \(its parameters: "
                                r"'day', 'region', 'limit'\)"),
        ({"day": "tomorrow"}, r"day: 'tomorrow' is not a 'date'"),
        ({"limit": "many"}, r"limit: 'many' is not of type 'integer'"),
        ({"region": object()}, r"stored as JSON"),
        (["day"], r"must be a dict"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_naming_the_parameter(parameters, message):
    with pytest.raises(ParameterError, match=message):
        nightly.to_deployment("nightly", parameters=parameters)
    with pytest.raises(ParameterError, match=message):
        nightly.to_deployment("nightly").run_parameters(parameters)


def test_a_schedules_bad_parameters_are_refused_too():
    with pytest.raises(ParameterError, match="limit: 'x' is not of type 'integer'"):
        nightly.to_deployment(
            "nightly", schedules=[Cron("0 2 * * *", parameters={"limit": "x", **DAY})]
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "0 2 * *"}, r"nightly'.*: cron: '0 2 \* \*' is not a cron expression"),
        ({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}, r"timezone: 'Mars/Olympus'"),
        ({"interval": timedelta(0)}, r"interval: must be a positive duration"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, r"rrule: .* never fires"),
        ({"cron": "0 2 * * *", "interval": 60}, r"give one of cron=, interval= or rrule="),
        ({"cron": "0 2 * * *", "schedules": []}, r"give one of cron=.*and schedules"),
        ({"schedules": ["0 2 * * *"]}, r"schedules must be a list of plait.schedules"),
        ({"concurrency_limit": 0}, r"concurrency_limit must be a whole number of at least 1"),
        ({"collision": "skip"}, r"collision must be one of 'enqueue', 'cancel_new'; got 'skip'"),
        ({"catchup": True}, r"catchup must be one of 'latest', 'all', 'none'"),
        ({"tags": "etl"}, r"tags must be a list of strings"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        nightly.to_deployment("nightly", **options)


def test_a_deployment_needs_a_name_and_an_importable_flow():
    with pytest.raises(InvalidOptionError, match="name must be a non-empty string"):
        nightly.to_deployment("  ")
    with pytest.raises(InvalidOptionError, match="name must not hold a '/'"):
        nightly.to_deployment("etl/nightly")

    @flow
    def local() -> None:
        return None

    with pytest.raises(InvalidOptionError, match="defined inside a function"):
        local.to_deployment("local")


def test_a_model_parameter_is_described_once_and_checked_field_by_field():
    deployment = copy.to_deployment("copy", parameters={"source": {"table": "orders"}})

    schema = deployment.parameter_schema
    assert schema["$defs"]["Target"]["required"] == ["table"]
    assert schema["properties"]["dest"]["anyOf"] == [{"$ref": "#/$defs/Target"}, {"type": "null"}]
    assert deployment.run_parameters({"dest": {"table": "t", "rows": 2}})["dest"]["rows"] == 2
    with pytest.raises(ParameterError, match=r"dest\.rows: 'many' is not of type 'integer'"):
        deployment.run_parameters({"dest": {"table": "t", "rows": "many"}})


def test_a_flow_taking_keyword_arguments_takes_any_parameter_name():
    deployment = open_ended.to_deployment("open", parameters={"day": "x", "verbose": True})
    assert deployment.run_parameters({"retries": 2}) == {"day": "x", "verbose": True, "retries": 2}


def test_a_secret_parameter_is_refused_rather_than_stored_in_the_clear():
    with pytest.raises(ParameterError, match=r"holds a secret value.*pass the block's name"):
        nightly.to_deployment("nightly", parameters={"day": "x", "region": SecretStr("eu")})

"""Deployments: a flow registered to run later, on its schedules or on request, with its
parameters checked against the flow's signature and type hints when the deployment is built
and again when a run is asked for.

    deployment = nightly.to_deployment(
        "nightly", cron="0 2 * * *", timezone="Europe/Berlin", parameters={"region": "eu"}
    )

A deployment names its flow by entrypoint (``module:name``, or ``/path/script.py:name``), so
a serving process or a worker can import it again, and keeps the JSON schema of the flow's
parameters (what a form for them needs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from referencing.exceptions import Unresolvable

from plait.backend.deployments import DeploymentRecord
from plait.engine import options as opt
from plait.engine.flow_runs import entrypoint_of
from plait.engine.parameters import parameter_schema
from plait.exceptions import InvalidOptionError, ParameterError
from plait.runs import new_id
from plait.schedules import Cron, Interval, RRule, Schedule, ScheduleError, schedule_from_json
from plait.serializers import holds_secret

if TYPE_CHECKING:
    from plait.flows import Flow

COLLISIONS = ("enqueue", "cancel_new")  # a run due while concurrency_limit runs are running
CATCHUPS = ("latest", "all", "none")  # which runs missed while nothing was scheduling run


@dataclass(frozen=True)
class Deployment:
    """A flow registered to run on its ``schedules`` or on request, with ``parameters``
    (a schedule's own parameters, then a request's, override them). At most
    ``concurrency_limit`` of its runs run at once; one due beyond that waits (``collision=
    "enqueue"``) or is cancelled (``"cancel_new"``). After time when nothing scheduled it,
    ``catchup`` says which missed runs still run: the ``"latest"``, ``"all"`` or ``"none"``."""

    name: str
    flow_name: str
    entrypoint: str
    parameter_schema: dict[str, Any]
    schedules: tuple[Schedule, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    description: str | None = None
    version: str | None = None
    concurrency_limit: int | None = None
    collision: str = "enqueue"
    catchup: str = "latest"

    def run_parameters(
        self, given: dict[str, Any] | None = None, schedule: Schedule | None = None
    ) -> dict[str, Any]:
        """The parameters of a run of this deployment (of ``schedule``'s, if given, with
        ``given`` on top), checked against the flow: a ParameterError names any parameter
        that is unknown, of the wrong type, or required and missing."""
        given = _check_parameters(
            self.parameter_schema, {} if given is None else given, f"Deployment {self.name!r}",
            self.flow_name,
        )  # fmt: skip
        merged = {**self.parameters, **(schedule.parameters if schedule else {}), **given}
        missing = [name for name in self.parameter_schema["required"] if name not in merged]
        if missing:
            raise ParameterError(
                f"Deployment {self.name!r}: flow {self.flow_name!r} requires "
                f"{_listing(missing)} and the deployment gives no value; pass it with "
                f"-p {missing[0]}=... (or set it in the deployment's parameters)."
            )
        return merged

    def checked(self, owner: str | None = None) -> Deployment:
        """This deployment with its options and parameters checked (each bad one refused by
        name; ``owner`` starts the messages) and its parameters as the JSON they are kept as."""
        owner = owner or f"Deployment {self.name!r}"
        if "/" in self.name:
            raise InvalidOptionError(
                f"{owner}: name must not hold a '/' (it is one segment of the API's paths); "
                "use '-' or '.' instead."
            )
        limit = self.concurrency_limit
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 1):  # fmt: skip
            raise InvalidOptionError(
                f"{owner}: concurrency_limit must be a whole number of at least 1, or None "
                f"for no limit; got {limit!r}."
            )
        for option, value, allowed in (("collision", self.collision, COLLISIONS),
                                       ("catchup", self.catchup, CATCHUPS)):  # fmt: skip
            if value not in allowed:
                raise InvalidOptionError(
                    f"{owner}: {option} must be one of {_listing(allowed)}; got {value!r}."
                )
        schema, flow_name = self.parameter_schema, self.flow_name
        deployment = replace(
            self,
            parameters=_check_parameters(schema, self.parameters, owner, flow_name),
            schedules=tuple(
                replace(schedule, parameters=_check_parameters(schema, schedule.parameters,
                                                               owner, flow_name))
                for schedule in self.schedules
            ),
        )  # fmt: skip
        for schedule in deployment.schedules:  # a scheduled run must have every parameter
            if schedule.active:
                deployment.run_parameters(schedule=schedule)
        return deployment

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        """A deployment sent as JSON (``to_record``'s fields, as the API receives them),
        checked as ``to_deployment`` checks one: a bad field is refused by name."""
        import jsonschema

        owner = f"Deployment {data.get('name')!r}"
        opt.check_name(data.get("name"), "Deployment")
        schema = data.get("parameter_schema")
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
            if not (isinstance(schema["properties"], dict)
                    and isinstance(schema["required"], list)):  # fmt: skip
                raise TypeError("properties must be an object and required a list")
            _resolve_refs(schema)
        except (jsonschema.SchemaError, TypeError, KeyError, Unresolvable) as exc:
            raise ParameterError(
                f"{owner}: parameter_schema is not the JSON schema of a flow's parameters "
                f"({exc}); send what flow.to_deployment() made."
            ) from None
        schedules = []
        for index, schedule in enumerate(data.get("schedules") or []):
            try:
                schedules.append(schedule_from_json(schedule))
            except (ScheduleError, TypeError, KeyError, ValueError, AttributeError,
                    OverflowError) as exc:  # fmt: skip
                raise ParameterError(f"{owner}: schedules[{index}]: {exc}") from None
        known = {name: data[name] for name in _RECORDED if name in data}
        deployment = cls(**{**known, "schedules": tuple(schedules),
                            "tags": tuple(data.get("tags") or ())})  # fmt: skip
        return deployment.checked(owner)

    def to_record(self) -> DeploymentRecord:
        """The deployment as the backend saves it (a new id; saving under an existing name
        keeps that deployment's)."""
        now = datetime.now(UTC)
        return DeploymentRecord(
            **{name: getattr(self, name) for name in _RECORDED},
            schedules=tuple(schedule.to_json() for schedule in self.schedules),
            id=new_id(), paused=False, created=now, updated=now,
        )  # fmt: skip

    @classmethod
    def from_record(cls, record: DeploymentRecord) -> Deployment:
        """The deployment a saved record describes."""
        return cls(
            **{name: getattr(record, name) for name in _RECORDED},
            schedules=tuple(map(schedule_from_json, record.schedules)),
        )


_RECORDED = [f.name for f in fields(Deployment) if f.name != "schedules"]  # kept as they are


def serve(*deployments: Deployment, limit: int | None = None) -> None:
    """Save ``deployments`` and run their flow runs, scheduled or asked for, each in a
    subprocess of its own, at most ``limit`` at once, until Ctrl-C or SIGTERM (running flow
    runs get ``serve_grace_seconds`` to finish, then are cancelled). With no server, this
    process also schedules them."""
    from plait.workers.serving import ServingProcess

    ServingProcess(deployments, limit).run()


def build_deployment(
    flow: Flow,
    name: str,
    *,
    cron: str | None = None,
    interval: timedelta | float | None = None,
    rrule: str | None = None,
    schedules: list[Schedule] | None = None,
    timezone: str = "UTC",
    anchor_date: datetime | None = None,
    parameters: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
    version: str | None = None,
    concurrency_limit: int | None = None,
    collision: str = "enqueue",
    catchup: str = "latest",
) -> Deployment:
    """``flow.to_deployment(...)``: every argument checked, each bad one refused by name."""
    owner = f"Deployment {name!r} of flow {flow.name!r}"
    opt.check_name(name, owner)
    entrypoint = entrypoint_of(flow)
    if entrypoint is None:
        raise InvalidOptionError(
            f"{owner}: the flow is defined inside a function (or interactively), so the "
            "process that runs the deployment cannot import it; define it at module level."
        )
    deployment = Deployment(
        name=name, flow_name=flow.name, entrypoint=entrypoint,
        parameter_schema=parameter_schema(flow.fn, flow.name),
        schedules=_schedules(owner, cron, interval, rrule, schedules, timezone, anchor_date),
        parameters=parameters or {}, tags=opt.check_tags(tags, owner),
        description=opt.check_optional_str(description, "description", owner),
        version=opt.check_optional_str(version, "version", owner),
        concurrency_limit=concurrency_limit, collision=collision, catchup=catchup,
    )  # fmt: skip
    return deployment.checked(owner)


def _schedules(
    owner: str,
    cron: str | None,
    interval: timedelta | float | None,
    rrule: str | None,
    schedules: list[Schedule] | None,
    timezone: str,
    anchor_date: datetime | None,
) -> tuple[Schedule, ...]:
    shortcuts = {"cron": cron, "interval": interval, "rrule": rrule}
    given = [option for option, value in shortcuts.items() if value is not None]
    if len(given) > 1 or (given and schedules is not None):
        raise InvalidOptionError(
            f"{owner}: give one of cron=, interval= or rrule=, or several schedules as "
            f"schedules=[Cron(...), Interval(...), ...]; got {_listing(given or ['schedules'])}"
            f"{' and schedules' if given and schedules is not None else ''}."
        )
    anchored = {} if anchor_date is None else {"anchor_date": anchor_date}
    try:
        if cron is not None:
            return (Cron(cron, timezone=timezone),)
        if interval is not None:
            return (Interval(interval, timezone=timezone, **anchored),)
        if rrule is not None:
            return (RRule(rrule, timezone=timezone, **anchored),)
    except ScheduleError as exc:
        raise InvalidOptionError(f"{owner}: {exc}") from None
    schedules = [] if schedules is None else schedules
    if isinstance(schedules, str) or not all(
        isinstance(schedule, Cron | Interval | RRule) for schedule in schedules
    ):
        raise InvalidOptionError(
            f"{owner}: schedules must be a list of plait.schedules Cron, Interval or RRule; "
            f"got {schedules!r}."
        )
    return tuple(schedules)


def _resolve_refs(schema: dict[str, Any]) -> None:
    """Look up every ``$ref`` in ``schema`` within it; ``Unresolvable`` names one it lacks."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = (
        Registry().with_resource("urn:plait:parameters", resource).resolver("urn:plait:parameters")
    )
    pending: list[Any] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                resolver.lookup(node["$ref"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _check_parameters(
    schema: dict[str, Any], parameters: Any, owner: str, flow_name: str
) -> dict[str, Any]:
    """``parameters`` as JSON values (a ``date`` as its ISO text), refused by name when the
    flow does not take them or their type is not what its hints say (by the parameters'
    JSON schema, so that a process without the flow's code checks them the same way)."""
    import jsonschema
    import pydantic_core

    if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
        raise ParameterError(f"{owner}: parameters must be a dict of names to values; got "
                             f"{parameters!r}.")  # fmt: skip
    known = schema["properties"]
    unknown = [name for name in parameters if name not in known]
    if unknown and not schema.get("additionalProperties"):
        raise ParameterError(
            f"{owner}: {_listing(unknown)} is not a parameter of flow {flow_name!r} (its "
            f"parameters: {_listing(known) or 'none'})."
        )
    if holds_secret(parameters):
        raise ParameterError(
            f"{owner}: a parameter holds a secret value, and a deployment's parameters are "
            "stored in the clear; save it in a block and pass the block's name instead."
        )
    try:
        values = pydantic_core.to_jsonable_python(parameters)
    except pydantic_core.PydanticSerializationError as exc:
        raise ParameterError(
            f"{owner}: parameters are stored as JSON, and these cannot be ({exc}); give "
            "values JSON can hold (text, numbers, lists, dicts, dates), which the flow's type "
            "hints coerce when it runs."
        ) from None
    checker = jsonschema.Draft202012Validator(
        {**schema, "required": []}, format_checker=jsonschema.FormatChecker()
    )
    try:
        problems = sorted(
            (_nearest_miss(error) for error in checker.iter_errors(values)),
            key=lambda error: list(error.absolute_path),
        )  # fmt: skip
    except Unresolvable as exc:  # a schema sent to the API that names what it lacks
        raise ParameterError(f"{owner}: parameter_schema: {exc}") from None
    if problems:
        lines = [f"{owner}: parameters not valid for flow {flow_name!r}:"]
        for problem in problems:
            where = ".".join(str(part) for part in problem.absolute_path)
            lines.append(f"  - {where}: {problem.message}")
        raise ParameterError("\n".join(lines))
    return values


def _nearest_miss(error: Any) -> Any:
    """For a value no branch of an ``anyOf`` takes (``Model | None``), the branch's error
    that got furthest into the value (``dest.rows: 'many' is not of type 'integer'``)."""
    while error.context:
        error = max(error.context, key=lambda branch: len(branch.absolute_path))
    return error


def _listing(names: Any) -> str:
    return ", ".join(repr(name) for name in names)


__all__ = ["CATCHUPS", "COLLISIONS", "Deployment", "build_deployment"]

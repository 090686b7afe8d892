"""Records the demo's cases (``demo/cases/*.json``) through the application's public commands.

A case file's ``steps`` (``{"step", "command", "args", "kwargs", "evidence"}``) run in order, each as
``Demo loader (admin)`` with the Idempotency-Key ``demo:<case>:<step>``. In ``args`` and ``kwargs``,
``{"result_of": "<step>", "field": "<field>"}`` is a field of the result of an earlier step of the
case (e.g. the collaboration's ``id``), and an ISO date under a key in ``DATE_FIELDS`` is a date;
``evidence`` lists keys of ``demo/sources.json``. docs/demo-data.md describes the format in full.

Every file is checked (its keys, the commands and their arguments, references, dates, sources)
before the first step runs: a file the loader refuses (``DemoDataError``) records nothing. Only
whether a referenced result has the field waits until that step has run.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from domain.errors import DomainError
from service.application import Caller, CollaborationRecords, IdempotencyKey, Written

PRINCIPAL = "demo"
CALLER = Caller("Demo loader (admin)")

DATA = files("demo")
# The cases, in the order they are loaded.
CASE_FILES = tuple(
    DATA / "cases" / name
    for name in ("west_mercia_warwickshire.json", "dorset_devon_cornwall.json", "seven_forces.json")
)
DATE_FIELDS = frozenset({"effective_on", "new_exit_on", "paid_on", "due_on", "period_start", "period_end", "on"})
CASE_KEYS, STEP_KEYS = {"case", "title", "notes", "steps"}, {"step", "command", "args", "kwargs", "evidence"}


class DemoDataError(ValueError):
    """A case file the loader refuses (its step, and what is wrong with it). Nothing was recorded."""


class DemoStepRefused(Exception):
    """A step the store refused: e.g. a store loaded by an earlier version of the demo whose step
    has changed since (its Idempotency-Key now names a different request). Nothing of that step
    was recorded."""


@dataclass(frozen=True)
class Ref:  # {"result_of": step, "field": field}: a field of an earlier step's result
    step: str
    field: str


@dataclass(frozen=True)
class Step:
    case: str
    name: str
    key: str  # its Idempotency-Key, demo:<case>:<step>
    command: str
    args: list[Any]
    kwargs: dict[str, Any]  # with ``evidence``, and dates as dates


@dataclass
class DemoLoad:
    """What a load did: the ids of what it recorded (or found recorded), and how many steps were
    new. ``events`` is how much the log grew."""

    collaborations: dict[str, str] = field(default_factory=dict)  # case -> collaboration id
    exit_cases: dict[str, str] = field(default_factory=dict)  # case -> exit case id
    benefits: dict[str, str] = field(default_factory=dict)  # "<case>:<step>" -> benefit id
    functions: dict[str, dict[str, str]] = field(default_factory=dict)  # case -> name -> function id
    steps: int = 0
    recorded: int = 0
    events_before: int = 0
    events_after: int = 0

    @property
    def replayed(self) -> int:
        return self.steps - self.recorded

    @property
    def events(self) -> int:
        return self.events_after - self.events_before

    def summary(self) -> str:
        cases = (
            f"{len(self.collaborations)} collaborations, {len(self.exit_cases)} exit case"
            f"{'' if len(self.exit_cases) == 1 else 's'}, {len(self.benefits)} benefits"
        )
        if self.recorded == 0:
            return f"Demo data: nothing new; all {self.steps} steps were already recorded ({cases})."
        return (
            f"Demo data: {cases}; {self.recorded} of {self.steps} steps recorded now, {self.events} events "
            f"(log now {self.events_after})."
        )


def read_sources() -> dict[str, str]:
    """The public documents the steps cite, by key (``demo/sources.json``)."""
    return json.loads((DATA / "sources.json").read_text(encoding="utf-8"))


def read_steps(case_files: Iterable[Traversable] = CASE_FILES) -> list[Step]:
    """Every step of the case files, in order, checked; raises DemoDataError at the first fault."""
    sources, cases, steps = read_sources(), set(), []
    for path in case_files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DemoDataError(f"{path.name}: not a readable JSON file ({error})") from None
        where = path.name
        _expect(
            isinstance(document, dict) and set(document) <= CASE_KEYS,
            where,
            f"a case is an object of {sorted(CASE_KEYS)}",
        )
        case = document.get("case")
        _expect(isinstance(case, str) and case != "" and case not in cases, where, "'case' must name a new case")
        _expect(isinstance(document.get("steps"), list), where, "'steps' must be a list")
        cases.add(case)
        names: set[str] = set()
        for number, raw in enumerate(document["steps"], start=1):
            step = _read_step(raw, case, f"{path.name}, step {number}", names, sources)
            names.add(step.name)
            steps.append(step)
    return steps


def _read_step(raw: Any, case: str, where: str, earlier: set[str], sources: dict[str, str]) -> Step:
    _expect(isinstance(raw, dict), where, "a step is an object")
    name, command = raw.get("step"), raw.get("command")
    _expect(set(raw) <= STEP_KEYS, where, f"unknown keys {sorted(set(raw) - STEP_KEYS)}")
    _expect(isinstance(name, str) and name != "" and name not in earlier, where, "'step' must name a new step")
    where = f"{where} ({name!r})"
    _expect(isinstance(command, str) and is_command(command), where, f"{command!r} is not a command of the application")
    args, kwargs, evidence = raw.get("args", []), raw.get("kwargs"), raw.get("evidence")
    _expect(isinstance(args, list) and isinstance(kwargs, dict), where, "'args' must be a list, 'kwargs' an object")
    _expect(not {"caller", "idempotency", "evidence"} & set(kwargs), where, "caller, idempotency or evidence in kwargs")
    keys = evidence if isinstance(evidence, list) and all(type(key) is str for key in evidence) else []
    _expect(keys != [] and set(keys) <= set(sources), where, f"'evidence' {evidence!r}: not keys of demo/sources.json")
    args = _prepare(args, None, where, earlier)
    kwargs = {**_prepare(kwargs, None, where, earlier), "evidence": "; ".join(sources[key] for key in evidence)}
    try:
        inspect.signature(getattr(CollaborationRecords, command)).bind(None, *args, caller=CALLER, **kwargs)
    except TypeError as error:
        raise DemoDataError(f"{where}: {command} does not take these arguments ({error})") from None
    return Step(case, name, f"demo:{case}:{name}", command, args, kwargs)


def is_command(name: str) -> bool:
    """One of the application's commands: a public method of CollaborationRecords answering Written."""
    method = None if name.startswith("_") else getattr(CollaborationRecords, name, None)
    return inspect.isfunction(method) and inspect.signature(method).return_annotation in ("Written", Written)


def _prepare(value: Any, key: str | None, where: str, earlier: set[str]) -> Any:
    """``value`` with references as Refs (to earlier steps only) and ISO dates as dates."""
    if isinstance(value, dict) and "result_of" in value:
        target = value["result_of"]
        shape = set(value) == {"result_of", "field"} and all(type(part) is str for part in value.values())
        _expect(shape, where, f"a reference is only 'result_of' a step and a 'field' of its result: {value}")
        _expect(target in earlier, where, f"refers to {target!r}, which is not an earlier step of the case")
        return Ref(target, value["field"])
    if isinstance(value, dict):
        return {name: _prepare(item, name, where, earlier) for name, item in value.items()}
    if isinstance(value, list):
        return [_prepare(item, key, where, earlier) for item in value]
    if key in DATE_FIELDS and isinstance(value, str):
        try:
            parsed: date | None = date.fromisoformat(value)
        except ValueError:
            parsed = None
        _expect(parsed is not None and parsed.isoformat() == value, where, f"{key} {value!r} is not a YYYY-MM-DD date")
        return parsed
    return value


def _expect(condition: bool, where: str, problem: str) -> None:
    if not condition:
        raise DemoDataError(f"{where}: {problem}")


def load_demo(records: CollaborationRecords, case_files: Iterable[Traversable] = CASE_FILES) -> DemoLoad:
    """Records the cases (or replays them, recording nothing, if they are recorded). The load names
    each case's collaboration, exit case, benefits and functions by the steps that made them."""
    steps = read_steps(case_files)  # all checked before the first is run
    load = DemoLoad(events_before=records.log_size())
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for step in steps:
        result = results[step.case, step.name] = _run(records, step, results, load)
        if step.command == "establish_collaboration":
            load.collaborations[step.case] = result["id"]
        elif step.command == "open_exit_case":
            load.exit_cases[step.case] = result["id"]
        elif step.command == "identify_benefit":
            load.benefits[f"{step.case}:{step.name.removeprefix('benefit:')}"] = result["id"]
        elif step.command == "add_function":
            load.functions.setdefault(step.case, {})[step.kwargs["name"]] = result["function_id"]
    load.events_after = records.log_size()
    return load


def load_demo_if_empty(records: CollaborationRecords) -> DemoLoad | None:
    """Loads the demo into a fresh store (one with no events yet); leaves any other store as it
    is and answers None."""
    if records.log_size() > 0:
        return None
    return load_demo(records)


def _run(records: CollaborationRecords, step: Step, results: dict[tuple[str, str], Any], load: DemoLoad) -> Any:
    """Runs one step as the demo caller with its Idempotency-Key: a step already recorded answers
    its stored result and records nothing."""

    def resolve(value: Any) -> Any:
        if isinstance(value, Ref):
            result = results[step.case, value.step]
            if value.field not in result:
                raise DemoDataError(f"{step.key}: the result of {value.step!r} has no {value.field!r}")
            return result[value.field]
        if isinstance(value, dict):
            return {name: resolve(item) for name, item in value.items()}
        return [resolve(item) for item in value] if isinstance(value, list) else value

    args, kwargs = resolve(step.args), resolve(step.kwargs)
    request = {"command": step.command, "args": args, **kwargs}
    idempotency = IdempotencyKey(PRINCIPAL, step.key, IdempotencyKey.fingerprint_of("DEMO", step.key, request))
    try:
        written = getattr(records, step.command)(*args, caller=CALLER, idempotency=idempotency, **kwargs)
    except DomainError as error:
        raise DemoStepRefused(f"demo step {step.key} was refused: {error}") from error
    load.steps += 1
    if not written.replayed:
        load.recorded += 1
    return written.compact  # the ids later steps refer to, without building the whole document

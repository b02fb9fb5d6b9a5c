"""The condition language of service definitions: small, bounded, and evaluated on answers.

A condition is a TOML inline table with exactly one test:

    { question = "nationality", equals = "other" }
    { question = "nationality", in = ["british", "irish"] }
    { question = "nationality", not_in = ["british", "irish"] }
    { question = "email", answered = true }
    { question = "date-of-birth", age_under = 16 }       # or age_at_least = 18
    { all = [ {...}, {...} ] }                           # or any = [...]

`all` and `any` nest at most MAX_DEPTH deep and hold at most MAX_BRANCHES conditions each.
A test on a question that has no answer does not hold (only `answered = false` does). On a
checkboxes or slots answer (a list), `equals` holds when the value is among those chosen,
`in` when any chosen value is in the list, and `not_in` when none is. Plain computation:
services/definitions.py checks that conditions name questions that exist, on earlier pages.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, model_validator

MAX_DEPTH = 4
MAX_BRANCHES = 20
MAX_VALUES = 50
MAX_AGE = 150

ScalarValue = str | int | bool


def _scalar(value: Any) -> ScalarValue:
    if isinstance(value, bool | int) or (isinstance(value, str) and len(value) <= 200):
        return value
    raise ValueError("must be text (at most 200 characters), a whole number or true/false")


def _scalars(value: Any) -> list[ScalarValue]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VALUES:
        raise ValueError(f"must be a list of 1 to {MAX_VALUES} values")
    return [_scalar(item) for item in value]


Scalar = Annotated[ScalarValue, PlainValidator(_scalar)]
Scalars = Annotated[list[ScalarValue], PlainValidator(_scalars)]


class DefinitionCheckError(ValueError):
    """A check across keys that failed: where (a key path), what, and the fix."""

    def __init__(self, where: Sequence[str | int], what: str, fix: str) -> None:
        super().__init__(what)
        self.where = tuple(where)
        self.what = what
        self.fix = fix


TESTS = ("equals", "in_", "not_in", "answered", "age_under", "age_at_least")


class Condition(BaseModel):
    """One test on one question's answer, or all/any of several conditions."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    question: str | None = Field(None, min_length=1, max_length=48)
    equals: Scalar | None = None
    in_: Scalars | None = Field(None, alias="in")
    not_in: Scalars | None = None
    answered: bool | None = None
    age_under: int | None = Field(None, ge=1, le=MAX_AGE)
    age_at_least: int | None = Field(None, ge=0, le=MAX_AGE)
    all: list[Condition] | None = Field(None, min_length=1, max_length=MAX_BRANCHES)
    any: list[Condition] | None = Field(None, min_length=1, max_length=MAX_BRANCHES)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [name for name in TESTS if getattr(self, name) is not None]
        groups = [name for name in ("all", "any") if getattr(self, name) is not None]
        if groups:
            if len(groups) > 1 or tests or self.question is not None:
                raise DefinitionCheckError(
                    [],
                    "a condition with all or any has no other key",
                    "nest the other tests in its list",
                )
            if self.depth > MAX_DEPTH:
                raise DefinitionCheckError(
                    [], f"conditions nest at most {MAX_DEPTH} deep", "write it with fewer levels"
                )
            return self
        if self.question is None or len(tests) != 1:
            raise DefinitionCheckError(
                [],
                "a condition has a question and one test, or is all or any",
                "write { question = ID, and one of equals, in, not_in, answered, age_under, "
                "age_at_least }, or { all = [...] } or { any = [...] }",
            )
        return self

    @property
    def depth(self) -> int:
        """How deep all/any nest here: 1 for a single test."""
        children = [*(self.all or ()), *(self.any or ())]
        return 1 + max((child.depth for child in children), default=0)

    @property
    def test(self) -> str:
        """The name of the test as written in TOML: equals, in, ..., all or any."""
        for name in (*TESTS, "all", "any"):
            if getattr(self, name) is not None:
                return "in" if name == "in_" else name
        raise AssertionError("a validated condition has a test")  # pragma: no cover

    def leaves(self) -> Iterator[Condition]:
        """Every single test in this condition, in the order written."""
        if self.all is None and self.any is None:
            yield self
        for child in [*(self.all or ()), *(self.any or ())]:
            yield from child.leaves()

    def values(self) -> list[ScalarValue]:
        """The values an equals, in or not_in test compares the answer with."""
        if self.equals is not None:
            return [self.equals]
        return list(self.in_ or self.not_in or ())


def age_on(born: date, today: date) -> int:
    """Whole years between born and today (a 29 February birthday counts on 1 March)."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def holds(condition: Condition, answers: Mapping[str, Any], today: date) -> bool:
    """True when condition holds for answers (question id to typed answer) on today."""
    if condition.all is not None:
        return all(holds(child, answers, today) for child in condition.all)
    if condition.any is not None:
        return any(holds(child, answers, today) for child in condition.any)
    answer = answers.get(condition.question or "")
    present = answer is not None and answer != [] and answer != ""
    if condition.answered is not None:
        return present == condition.answered
    if not present:
        return False
    chosen = answer if isinstance(answer, list) else [answer]
    if condition.age_under is not None or condition.age_at_least is not None:
        try:
            age = age_on(date.fromisoformat(str(answer)), today)
        except ValueError:
            return False
        if condition.age_under is not None:
            return age < condition.age_under
        return condition.age_at_least is not None and age >= condition.age_at_least
    values = condition.values()
    matched = any(_same(item, value) for item in chosen for value in values)
    return not matched if condition.not_in is not None else matched


def _same(answer: Any, value: ScalarValue) -> bool:
    # True == 1 in Python: a yes/no answer never equals a number, nor a number a boolean.
    return type(answer) is type(value) and answer == value

"""`@frozen` records behave as the frozen dataclasses they replace."""

import math

import pytest

from otpgen._record import FrozenInstanceError, field, frozen, replace


@frozen
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str | None = field(default=None, compare=False)


def test_construction_by_position_or_keyword_with_defaults() -> None:
    assert Point(1) == Point(x=1, y=0, tags=[])
    assert Point(1, 2, ["a"]).tags == ["a"]
    assert Point(y=3, x=1).y == 3
    assert Point.y == 0  # a plain default stays a class attribute, as in dataclasses


def test_each_record_gets_its_own_factory_default() -> None:
    first, second = Point(1), Point(1)
    first.tags.append("mine")
    assert second.tags == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required argument: 'x'"),
        ((1, 2, [], None, 5), {}, "takes 4 arguments but 5 were given"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
        ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
    ],
)
def test_bad_arguments_are_refused(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)  # type: ignore[arg-type]


def test_fields_cannot_be_assigned_or_deleted() -> None:
    point = Point(1)
    with pytest.raises(FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.x
    assert point.x == 1


def test_equality_and_hash_follow_the_compared_fields() -> None:
    assert Point(1, note="a") == Point(1, note="b")
    assert Point(1) != Point(2)
    assert hash(Point(1, 2, None, "a")) == hash(Point(1, 2, None, "b"))  # type: ignore[arg-type]
    assert len({Point(1, 2, None), Point(1, 2, None)}) == 1  # type: ignore[arg-type]
    nan = math.nan
    assert Point(nan) == Point(nan)  # type: ignore[arg-type]  # identity first, as tuples
    with pytest.raises(TypeError):
        hash(Point(1))  # a list field is unhashable, as in a dataclass


def test_a_record_never_equals_another_class_with_the_same_fields() -> None:
    @frozen
    class Other:
        x: int
        y: int = 0
        tags: list[str] = field(default_factory=list)
        note: str | None = None

    other: object = Other(1)
    assert Point(1) != other
    plain: object = (1, 0, [], None)
    assert Point(1) != plain


def test_repr_and_replace() -> None:
    point = Point(1, tags=["t"])
    assert repr(point) == "Point(x=1, y=0, tags=['t'], note=None)"
    moved = replace(point, y=5)
    assert moved == Point(1, 5, ["t"])
    assert point.y == 0


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b'"):

        @frozen
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]


def test_match_args() -> None:
    match Point(1, 2):
        case Point(x, y):
            assert (x, y) == (1, 2)
        case _:
            pytest.fail("no match")

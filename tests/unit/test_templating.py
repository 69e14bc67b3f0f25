import pytest

from shared.errors import Unprocessable
from shared.templating import placeholders, render


def test_fills_placeholders_with_strings_and_json() -> None:
    out = render("Find {{ item }} under {{max}} in {{item}}", {"item": "kettles", "max": 30, "unused": 1})
    assert out == "Find kettles under 30 in kettles"
    assert render("Use {{cfg}}", {"cfg": {"a": [1, 2]}}) == 'Use {"a":[1,2]}'


def test_names_every_missing_input() -> None:
    with pytest.raises(Unprocessable) as exc:
        render("{{a}} {{b}} {{a}} {{c}}", {"b": "x"})
    assert exc.value.details == {"missing": ["a", "c"]}
    assert placeholders("{{a}} {{b}} {{a}}") == ["a", "b"]


def test_braces_that_are_not_placeholders_stay() -> None:
    assert render('JSON like {"a": 1} and {{ not valid name }}', None) == 'JSON like {"a": 1} and {{ not valid name }}'

"""The RFC 8941 subset: dictionaries, inner lists, items and parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import digitalstate.exchange.structured as sf
from digitalstate.exchange.structured import (
    InnerList,
    Item,
    Token,
    parse_dictionary,
    serialize_bare_item,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
    serialize_params,
)


def typed(value: object) -> object:
    """A form of a parsed value in which True and 1 (equal in Python) differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, Item):
        return ("item", typed(value.value), typed(value.params))
    if isinstance(value, InnerList):
        return ("list", tuple(typed(i) for i in value.items), typed(value.params))
    if isinstance(value, tuple):
        return tuple(typed(v) for v in value)
    return (type(value).__name__, value)


# --- parsing -----------------------------------------------------------------------------


def test_the_module_imports_and_names_its_bare_item_types() -> None:
    # BareItem used to be `str | ... | "Token"`, a TypeError at import time.
    assert Token in sf.BareItem.__args__


def test_a_signature_input_parses_into_its_components_and_parameters() -> None:
    parsed = parse_dictionary(
        'sig1=("@method" "@target-uri" "content-digest");created=1618884473'
        ';keyid="test-key";alg="ed25519";nonce="abc"'
    )
    assert parsed == {
        "sig1": InnerList(
            (Item("@method"), Item("@target-uri"), Item("content-digest")),
            (("created", 1618884473), ("keyid", "test-key"), ("alg", "ed25519"), ("nonce", "abc")),
        )
    }


def test_every_bare_item_type_parses() -> None:
    parsed = parse_dictionary('s="x", t=tok/en:1, i=-42, b=:AQID:, y=?1, n=?0, f')
    assert typed(parsed) == typed(
        {
            "s": Item("x"),
            "t": Item(Token("tok/en:1")),
            "i": Item(-42),
            "b": Item(b"\x01\x02\x03"),
            "y": Item(True),
            "n": Item(False),
            "f": Item(True),
        }
    )


def test_a_bare_key_takes_parameters() -> None:
    assert parse_dictionary("a;x=1;y") == {"a": Item(True, (("x", 1), ("y", True)))}


def test_strings_unescape_quotes_and_backslashes() -> None:
    assert parse_dictionary(r'a="say \"hi\" \\ bye"') == {"a": Item('say "hi" \\ bye')}


def test_an_empty_header_is_an_empty_dictionary() -> None:
    assert parse_dictionary("") == {}
    assert parse_dictionary("   ") == {}


def test_whitespace_around_members_is_allowed() -> None:
    assert parse_dictionary("  a=1 ,\tb=2  ") == {"a": Item(1), "b": Item(2)}


def test_a_repeated_dictionary_key_keeps_its_place_and_takes_the_last_value() -> None:
    parsed = parse_dictionary("a=1, b=2, a=3")
    assert list(parsed) == ["a", "b"]
    assert parsed["a"] == Item(3)


def test_a_repeated_parameter_keeps_its_place_and_takes_the_last_value() -> None:
    # RFC 8941 §4.2.3.2 overwrites in place; order matters when a signature base is rebuilt.
    assert parse_dictionary("a=1;x=1;y=2;x=3")["a"].params == (("x", 3), ("y", 2))


def test_an_empty_inner_list_parses() -> None:
    assert parse_dictionary("a=();p=1") == {"a": InnerList((), (("p", 1),))}


def test_inner_list_items_carry_their_own_parameters() -> None:
    assert parse_dictionary('a=( "x";req  "y";key="k" )') == {
        "a": InnerList((Item("x", (("req", True),)), Item("y", (("key", "k"),))))
    }


def test_fifteen_digit_integers_parse() -> None:
    assert parse_dictionary("a=-999999999999999")["a"] == Item(-999_999_999_999_999)


@pytest.mark.parametrize(
    "text",
    [
        "A=1",  # keys are lower case
        "1a=1",
        "a=1,",  # trailing comma
        "a=1,,b=2",
        "a=1 b=2",  # missing comma
        "a=",  # missing value
        'a="unterminated',
        'a="bad \\escape"',
        'a="tab\tinside"',
        'a="é"',
        "a=:not base64!:",
        "a=:AQID",  # unterminated byte sequence
        "a=:AQI:",  # bad padding
        "a=?2",
        "a=1.5",  # decimals are not part of this subset
        "a=1234567890123456",  # sixteen digits
        "a=-",
        "a=(1 2",  # unterminated inner list
        "a=(1,2)",
        "a=@x",
        "a=1;",
        "a=1;K=2",
        "a;=1",
        ",a=1",
    ],
)
def test_malformed_dictionaries_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dictionary(text)


# --- serialising ---------------------------------------------------------------------------


def test_bare_items_serialise_canonically() -> None:
    assert serialize_bare_item(True) == "?1"
    assert serialize_bare_item(False) == "?0"
    assert serialize_bare_item(0) == "0"
    assert serialize_bare_item(-7) == "-7"
    assert serialize_bare_item(b"\x01\x02\x03") == ":AQID:"
    assert serialize_bare_item(b"") == "::"
    assert serialize_bare_item(Token("ed25519")) == "ed25519"
    assert serialize_bare_item('a "b" \\c') == '"a \\"b\\" \\\\c"'


def test_a_true_parameter_is_written_as_its_key_alone() -> None:
    params = (("req", True), ("key", "sig1"), ("n", False))
    assert serialize_params(params) == ';req;key="sig1";n=?0'


def test_items_and_inner_lists_serialise_with_parameters() -> None:
    assert serialize_item(Item("content-digest", (("key", "sha-256"),))) == (
        '"content-digest";key="sha-256"'
    )
    inner = InnerList((Item("@method"), Item("@status")), (("created", 1), ("keyid", "a")))
    assert serialize_inner_list(inner) == '("@method" "@status");created=1;keyid="a"'


def test_a_dictionary_serialises_with_bare_keys_for_true_values() -> None:
    members = {"a": Item(1), "b": Item(True, (("p", 2),)), "c": InnerList((Item("x"),))}
    assert serialize_dictionary(members) == 'a=1, b;p=2, c=("x")'


@pytest.mark.parametrize(
    "value",
    [
        "line\r\nbreak",
        "new\nline",
        "tab\there",
        "nul\x00",
        "del\x7f",
        "café",
        10**15,
        -(10**15),
        Token("1abc"),
        Token("has space"),
        Token(""),
        1.5,
        None,
    ],
)
def test_values_a_structured_field_cannot_carry_are_refused_when_serialising(
    value: object,
) -> None:
    with pytest.raises(ValueError):
        serialize_bare_item(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["Upper", "1digit", "", "sp ace", "é"])
def test_parameter_keys_outside_the_grammar_are_refused_when_serialising(key: str) -> None:
    with pytest.raises(ValueError):
        serialize_params(((key, 1),))


# --- round trips ----------------------------------------------------------------------------

keys = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,8}", fullmatch=True)
tokens = st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,10}", fullmatch=True).map(Token)
strings = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
integers = st.integers(min_value=-999_999_999_999_999, max_value=999_999_999_999_999)
bare_items = st.one_of(strings, tokens, integers, st.binary(max_size=20), st.booleans())


params = st.dictionaries(keys, bare_items, max_size=3).map(lambda d: tuple(d.items()))
items = st.builds(Item, bare_items, params)
inner_lists = st.builds(InnerList, st.lists(items, max_size=4).map(tuple), params)
dictionaries = st.dictionaries(keys, st.one_of(items, inner_lists), max_size=5)


@given(dictionaries)
def test_a_serialised_dictionary_parses_back_to_itself(members: dict) -> None:
    assert typed(parse_dictionary(serialize_dictionary(members))) == typed(members)


@given(dictionaries)
def test_serialisation_is_canonical(members: dict) -> None:
    text = serialize_dictionary(members)
    assert serialize_dictionary(parse_dictionary(text)) == text


@given(st.text(st.sampled_from(list('ab=1-?0;, ()"\\:AQ*\t.é/')), max_size=30))
def test_parsing_arbitrary_text_either_succeeds_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_dictionary(text)
    except ValueError:
        return
    # Whatever parses re-serialises to something that parses to the same value.
    assert typed(parse_dictionary(serialize_dictionary(parsed))) == typed(parsed)

"""Finding a NUL character in an event from its JSON encoding.

parse_event searches the encoding its size check makes rather than walking
the event; both must agree on every value, backslashes included.
"""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.parsing import encodes_nul, holds_nul

# Text rich in what could confuse the search: NULs, backslashes, "u0000".
tricky_text = st.text(alphabet=st.sampled_from(["\x00", "\\", "u", "0", "a", "é"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_encodes_nul_agrees_with_walking_the_value(value):
    assert encodes_nul(json.dumps(value, default=str)) == holds_nul(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param({"a": "x\x00y"}, True, id="nul-in-a-value"),
        pytest.param({"a\x00": 1}, True, id="nul-in-a-key"),
        pytest.param({"a": "\\u0000"}, False, id="backslash-then-u0000-text"),
        pytest.param({"a": "\\\x00"}, True, id="nul-after-a-backslash"),
        pytest.param({"a": "\\\\u0000"}, False, id="two-backslashes-then-text"),
        pytest.param({"a": ["ok", {"b": "\x00"}]}, True, id="nul-nested"),
        pytest.param({"a": "plain"}, False, id="no-nul"),
    ],
)
def test_encodes_nul_reads_backslashes_as_json_writes_them(value, expected):
    assert encodes_nul(json.dumps(value)) is expected

"""Request bodies read as a real server reads them, refused in its JSON parser's (Gson's) words.

A live server reads a body into an object with Gson, leniently: a body that is not an object gets
``Expected BEGIN_OBJECT but was STRING at line 1 column 1 path $`` (``BEGIN_ARRAY``, ``NUMBER``,
``BOOLEAN``, ``NULL``), text that is no JSON at all reads as an unquoted STRING, and a broken object
gets ``<what was expected> at line L column C path $``. This is a small mimic, not Gson: the kind
and place come from the body's first token (Gson stops there), the break inside an object from
Python's parser; the path is always ``$``.
"""

from __future__ import annotations

import json
import re

_WHITESPACE = " \t\r\n"  # Gson's; Python's str.strip would also skip other spaces
_NON_LITERAL = frozenset("/\\;#={}[]:," + _WHITESPACE)  # a lenient Gson's unquoted text stops at these
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_KEYWORDS = (("true", "BOOLEAN"), ("false", "BOOLEAN"), ("null", "NULL"))
_LONG_DIGITS = 18  # an integer Gson reads as a long, and so steps past
# Python's message -> Gson's, and whether Gson had stepped past the character it stopped at.
_BREAKS = (("Expecting property name", "Expected name", 1), ("Expecting ':'", "Expected ':'", 1),
           ("Expecting ','", "Unterminated object", 1), ("Expecting value", "Expected value", 0))
NOT_FULLY_CONSUMED = "JSON document was not fully consumed."


def read_object(raw: bytes) -> dict[str, object] | str:
    """The body as a JSON object, or the message the server's parser gives for it."""
    text = raw.decode("utf-8", errors="replace")  # as a Java reader decodes: bad bytes become U+FFFD
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if start == len(text):
        return _located("End of input", text, start)
    if text[start] == "{":
        return _object(text)
    kind, width = _first_token(text, start)
    if kind in ("Expected value", "Unexpected value"):
        return _located(kind, text, start + width)
    return _located(f"Expected BEGIN_OBJECT but was {kind}", text, start + width)


def _first_token(text: str, start: int) -> tuple[str, int]:
    """What Gson takes the body's first token for, and how far it had read past its start."""
    first = text[start]
    if first == "[":
        return "BEGIN_ARRAY", 1
    if first in "\"'":
        return "STRING", 1
    if first in "],;":
        return "Unexpected value", 1
    if first in _NON_LITERAL:
        return "Expected value", 0
    for word, kind in _KEYWORDS:
        if text[start:start + len(word)].lower() == word and _ends_token(text, start + len(word)):
            return kind, len(word)
    number = _NUMBER.match(text, start)
    if number is not None and _ends_token(text, number.end()):
        digits = number.group().lstrip("-")
        is_long = number.group(1) is None and number.group(2) is None and len(digits) <= _LONG_DIGITS
        return "NUMBER", len(number.group()) if is_long else 0
    return "STRING", 0  # unquoted text, which a lenient reader takes for a string


def _ends_token(text: str, position: int) -> bool:
    return position == len(text) or text[position] in _NON_LITERAL


def _object(text: str) -> dict[str, object] | str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            return NOT_FULLY_CONSUMED
        if exc.msg.startswith("Unterminated string"):
            return _located("Unterminated string", text, len(text))
        if exc.pos >= len(text.rstrip(_WHITESPACE)):
            return _located("End of input", text, len(text))
        for python, gson, stepped in _BREAKS:
            if exc.msg.startswith(python):
                return _located(gson, text, exc.pos + stepped)
        return _located("Malformed JSON", text, exc.pos + 1)
    except RecursionError:
        return _located("Nesting too deep", text, 0)
    return value if isinstance(value, dict) else _located("Expected BEGIN_OBJECT", text, 0)


def _located(message: str, text: str, position: int) -> str:
    """``message`` with Gson's location: line and column (from 1) of ``position``, and the path."""
    line_start = text.rfind("\n", 0, position) + 1
    line = text.count("\n", 0, position) + 1
    return f"{message} at line {line} column {position - line_start + 1} path $"

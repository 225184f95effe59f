"""A caller's ``$filter`` and ``$orderby`` checked before they are passed on to Graph.

The check is of form only (closed quotes, balanced parentheses, ``property [asc|desc]``):
what a property means is Graph's to judge, and a 400 Graph gives for either reaches the
caller as ours, ``invalid_odata`` with Graph's message (``worker.operations.listing``).
"""

from __future__ import annotations

import re

from approvals.errors import BadRequest

INVALID_ODATA = "invalid_odata"
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")


class InvalidOData(BadRequest):
    code = INVALID_ODATA


def check_filter(text: str) -> str:
    """``text`` if its quotes close and its parentheses balance, else :class:`InvalidOData`
    worded as Graph words a filter it cannot parse."""
    depth = 0
    at = 0
    while at < len(text):
        char = text[at]
        if char == "'":
            end = at + 1
            while True:  # a quote inside a literal is written twice
                end = text.find("'", end)
                if end < 0:
                    raise _filter_error(text, at)
                if text[end + 1 : end + 2] == "'":
                    end += 2
                    continue
                break
            at = end + 1
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _filter_error(text, at)
        elif ord(char) < 32 and char not in "\t":
            raise _filter_error(text, at)
        at += 1
    if depth != 0 or not text.strip():
        raise _filter_error(text, len(text))
    return text


def _filter_error(text: str, at: int) -> InvalidOData:
    return InvalidOData(
        f"Invalid filter clause: Syntax error at position {at} in '{text}'.", field="$filter"
    )


def check_orderby(text: str) -> str:
    """``text`` if it is ``property[/sub] [asc|desc]`` items separated by commas."""
    for part in text.split(","):
        words = part.split()
        if not (1 <= len(words) <= 2) or not _PATH.match(words[0]):
            raise _orderby_error(text)
        if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
            raise _orderby_error(text)
    return text


def _orderby_error(text: str) -> InvalidOData:
    return InvalidOData(f"Invalid $orderby clause '{text}'.", field="$orderby")

"""OData system query options as Graph's Outlook APIs apply them to a collection of dicts.

Written from "Use query parameters to customize responses"
(https://learn.microsoft.com/graph/query-parameters), "Use the $filter query parameter"
(https://learn.microsoft.com/graph/filter-query-parameter) and "Paging Microsoft Graph data"
(https://learn.microsoft.com/graph/paging). Resources are plain JSON dicts, so a property path
such as ``from/emailAddress/address`` is a walk through nested dicts. Property names are matched
case-insensitively, as Graph does (its own example filters on ``Subject``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from .errors import GraphError, bad_request

MISSING = object()

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<punct>[(),:])
    |(?P<name>[A-Za-z_@][A-Za-z0-9_./@]*)
    """,
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"contains", "startswith", "endswith"}


@dataclass
class Token:
    kind: str
    text: str
    at: int


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if not match:
            raise _syntax(text, at)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), at))
        at = match.end()
    return tokens


def _syntax(text: str, at: int) -> GraphError:
    # The message Graph gives for a filter it cannot parse, e.g. in
    # https://github.com/microsoftgraph/microsoft-graph-devx-api/issues/2091.
    return bad_request(f"Invalid filter clause: Syntax error at position {at} in '{text}'.")


# An expression is a callable from (resource, lambda variables) to a value.
Expr = Callable[[dict[str, Any], dict[str, Any]], Any]


@dataclass
class Filter:
    """A parsed ``$filter``: evaluate it with ``matches``; ``properties`` in order of use."""

    text: str
    expr: Expr
    properties: list[str] = field(default_factory=list)

    def matches(self, resource: dict[str, Any]) -> bool:
        return self.expr(resource, {}) is True


class _Parser:
    def __init__(self, text: str, type_name: str) -> None:
        self.text = text
        self.type_name = type_name
        self.tokens = _tokenize(text)
        self.pos = 0
        self.properties: list[str] = []
        self.variables: list[str] = []

    def peek(self, offset: int = 0) -> Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise _syntax(self.text, len(self.text))
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text.lower() != text:
            raise _syntax(self.text, token.at)

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text.lower() == word

    def parse(self) -> Filter:
        expr = self.or_expr()
        if self.peek() is not None:
            raise _syntax(self.text, self.tokens[self.pos].at)
        return Filter(self.text, expr, self.properties)

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.is_word("or"):
            self.take()
            right = self.and_expr()
            left = _or(left, right)
        return left

    def and_expr(self) -> Expr:
        left = self.not_expr()
        while self.is_word("and"):
            self.take()
            right = self.not_expr()
            left = _and(left, right)
        return left

    def not_expr(self) -> Expr:
        if self.is_word("not"):
            self.take()
            inner = self.not_expr()
            return lambda r, v: inner(r, v) is not True
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        token = self.peek()
        if token is not None and token.kind == "name" and token.text.lower() in _COMPARISONS:
            self.take()
            right = self.operand()
            return _compare(token.text.lower(), left, right)
        return left

    def operand(self) -> Expr:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token.kind == "string":
            value = token.text[1:-1].replace("''", "'")
            return lambda r, v: value
        if token.kind == "datetime":
            moment = parse_datetime(token.text)
            return lambda r, v: moment
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return lambda r, v: number
        if token.kind != "name":
            raise _syntax(self.text, token.at)
        word = token.text.lower()
        if word in ("true", "false"):
            flag = word == "true"
            return lambda r, v: flag
        if word == "null":
            return lambda r, v: None
        following = self.peek()
        if word in _FUNCTIONS and following is not None and following.text == "(":
            return self.function(word)
        if following is not None and following.text == "(" and "/" in token.text:
            return self.lambda_any(token)
        return self.property(token)

    def function(self, name: str) -> Expr:
        self.expect("(")
        haystack = self.operand()
        self.expect(",")
        needle = self.operand()
        self.expect(")")

        def call(r: dict[str, Any], v: dict[str, Any]) -> bool:
            left, right = haystack(r, v), needle(r, v)
            if not isinstance(left, str) or not isinstance(right, str):
                return False
            left, right = left.lower(), right.lower()
            if name == "contains":
                return right in left
            if name == "startswith":
                return left.startswith(right)
            return left.endswith(right)

        return call

    def lambda_any(self, token: Token) -> Expr:
        # toRecipients/any(r: r/emailAddress/address eq 'x')
        collection_path, _, operator = token.text.rpartition("/")
        operator = operator.lower()
        if operator not in ("any", "all"):
            raise _syntax(self.text, token.at)
        collection = self.property(Token("name", collection_path, token.at))
        self.expect("(")
        variable = self.take()
        if variable.kind != "name":
            raise _syntax(self.text, variable.at)
        self.expect(":")
        self.variables.append(variable.text)
        body = self.or_expr()
        self.variables.pop()
        self.expect(")")
        name = variable.text

        def evaluate(r: dict[str, Any], v: dict[str, Any]) -> bool:
            items = collection(r, v)
            if not isinstance(items, list):
                return False
            results = (body(r, {**v, name: item}) is True for item in items)
            return any(results) if operator == "any" else all(results)

        return evaluate

    def property(self, token: Token) -> Expr:
        parts = token.text.split("/")
        if parts[0] in self.variables:
            variable, path = parts[0], parts[1:]
            return lambda r, v: walk(v.get(variable), path)
        if not self.properties or self.properties[-1] != parts[0].lower():
            self.properties.append(parts[0].lower())
        type_name = self.type_name

        def read(r: dict[str, Any], v: dict[str, Any]) -> Any:
            value = walk(r, parts)
            if value is MISSING:
                raise bad_request(
                    f"Could not find a property named '{parts[0]}' on type '{type_name}'."
                )
            return value

        return read


def _and(left: Expr, right: Expr) -> Expr:
    return lambda r, v: left(r, v) is True and right(r, v) is True


def _or(left: Expr, right: Expr) -> Expr:
    return lambda r, v: left(r, v) is True or right(r, v) is True


def _compare(op: str, left: Expr, right: Expr) -> Expr:
    def evaluate(r: dict[str, Any], v: dict[str, Any]) -> bool:
        a, b = _comparable(left(r, v), right(r, v))
        if op == "eq":
            return a == b
        if op == "ne":
            return a != b
        if a is None or b is None:
            return False
        try:
            if op == "gt":
                return a > b
            if op == "ge":
                return a >= b
            if op == "lt":
                return a < b
            return a <= b
        except TypeError as error:
            raise bad_request(
                f"Invalid filter clause: incompatible operands for '{op}'."
            ) from error

    return evaluate


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring both sides to one type: datetimes parsed, strings compared case-insensitively."""
    if isinstance(a, datetime) and isinstance(b, str):
        b = parse_datetime(b)
    elif isinstance(b, datetime) and isinstance(a, str):
        a = parse_datetime(a)
    if isinstance(a, str) and isinstance(b, str):
        return a.lower(), b.lower()
    return a, b


def walk(value: Any, path: Sequence[str]) -> Any:
    """Follow ``path`` through nested dicts, matching keys case-insensitively."""
    for part in path:
        if not isinstance(value, dict):
            return MISSING
        if part in value:
            value = value[part]
            continue
        lowered = part.lower()
        for key, item in value.items():
            if key.lower() == lowered:
                value = item
                break
        else:
            return MISSING
    return value


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is UTC, as Graph reads such values."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    # Graph writes seven fractional digits; Python reads at most six.
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", cleaned)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as error:
        raise bad_request(f"The value '{text}' is not a valid DateTimeOffset.") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def parse_filter(text: str, type_name: str) -> Filter:
    return _Parser(text, type_name).parse()


@dataclass
class Query:
    """The query options of one collection request, validated."""

    top: int | None = None
    skip: int = 0
    filter: Filter | None = None
    orderby: list[tuple[list[str], bool]] = field(default_factory=list)
    select: list[str] | None = None
    count: bool = False
    search: str | None = None
    passthrough: dict[str, str] = field(default_factory=dict)


MAX_TOP = 1000
# Characters a nextLink keeps readable, as Graph's own links do ($skip, quotes in $filter).
_LINK_SAFE = "$,/:()'"


def parse_query(args: dict[str, str], type_name: str) -> Query:
    """Read ``$top``, ``$skip``, ``$filter``, ``$orderby``, ``$select``, ``$count``, ``$search``."""
    query = Query()
    for name, value in args.items():
        key = name.lower()
        if key == "$top":
            query.top = _integer(name, value, minimum=1)
        elif key == "$skip":
            query.skip = _integer(name, value, minimum=0)
        elif key == "$filter":
            query.filter = parse_filter(value, type_name)
        elif key == "$orderby":
            query.orderby = _orderby(value)
        elif key == "$select":
            query.select = [part.strip() for part in value.split(",") if part.strip()]
        elif key == "$count":
            query.count = value.lower() == "true"
        elif key == "$search":
            query.search = value.strip().strip('"')
        else:
            query.passthrough[name] = value
    return query


def _integer(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"Invalid {name} value '{value}': an integer is expected.") from None
    if number < minimum:
        raise bad_request(f"Invalid {name} value '{value}'.", code="ErrorInvalidUrlQuery")
    return number


def _orderby(text: str) -> list[tuple[list[str], bool]]:
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise bad_request(f"Invalid $orderby clause '{text}'.")
        descending = False
        if len(words) == 2:
            if words[1].lower() not in ("asc", "desc"):
                raise bad_request(f"Invalid $orderby clause '{text}'.")
            descending = words[1].lower() == "desc"
        keys.append((words[0].split("/"), descending))
    return keys


def check_properties(query: Query, known: set[str] | None, type_name: str) -> None:
    """Refuse a property the type does not have, even when no item would be examined."""
    if known is None:
        return
    lowered = {name.lower() for name in known}
    names = list(query.filter.properties if query.filter else [])
    names += [path[0] for path, _ in query.orderby] + list(query.select or [])
    for name in names:
        if name.lower() not in lowered:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")


def check_filter_orderby(query: Query) -> None:
    """Messages: properties in ``$orderby`` must lead ``$filter``, in the same order.

    The rule and its error are documented on "List messages"
    (https://learn.microsoft.com/graph/api/user-list-messages#using-filter-and-orderby-in-the-same-query).
    """
    if query.filter is None or not query.orderby:
        return
    ordered = [path[0].lower() for path, _ in query.orderby]
    if query.filter.properties[: len(ordered)] != ordered:
        raise bad_request(
            "The restriction or sort order is too complex for this operation.",
            code="InefficientFilter",
        )


def apply(
    items: Iterable[dict[str, Any]],
    query: Query,
    *,
    default_order: list[tuple[list[str], bool]] | None = None,
    search_text: Callable[[dict[str, Any]], str] | None = None,
) -> list[dict[str, Any]]:
    """Filter, search and order; paging and $select are left to ``page`` and ``select``."""
    result = list(items)
    if query.filter is not None:
        result = [item for item in result if query.filter.matches(item)]
    if query.search and search_text is not None:
        words = [word.lower() for word in query.search.split()]
        result = [item for item in result if all(w in search_text(item).lower() for w in words)]
    for path, descending in reversed(query.orderby or default_order or []):
        result.sort(key=lambda item, p=path: _sort_key(walk(item, p)), reverse=descending)
    return result


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is MISSING or value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value.lower())
    return (3, str(value))


def select(resource: dict[str, Any], properties: list[str] | None, type_name: str) -> dict:
    """Keep the ``$select``ed properties; ``id`` and OData annotations always stay."""
    if properties is None:
        return resource
    lowered = {key.lower(): key for key in resource}
    chosen: dict[str, Any] = {
        key: value for key, value in resource.items() if key.startswith("@") or key == "id"
    }
    for name in properties:
        key = lowered.get(name.lower())
        if key is None:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
        chosen[key] = resource[key]
    return chosen


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_skip: int | None
    total: int


def page(items: list[dict[str, Any]], query: Query, *, default_size: int, cap: int | None) -> Page:
    """One page from ``$skip``; ``cap`` makes the server answer fewer items than asked.

    Graph pages mail and calendar collections with ``$skip`` and may return fewer items than
    ``$top`` ("A page of results may contain zero or more results",
    https://learn.microsoft.com/graph/paging); a client must follow ``@odata.nextLink``.
    """
    size = min(query.top or default_size, MAX_TOP)
    if cap is not None:
        size = min(size, cap)
    chunk = items[query.skip : query.skip + size]
    end = query.skip + len(chunk)
    return Page(chunk, end if end < len(items) else None, len(items))


def next_link(base_url: str, args: dict[str, str], next_skip: int) -> str:
    """The absolute next-page URL: every option of the request kept, ``$skip`` advanced."""
    kept = [(name, value) for name, value in args.items() if name.lower() != "$skip"]
    kept.append(("$skip", str(next_skip)))
    return f"{base_url}?{urlencode(kept, safe=_LINK_SAFE, quote_via=quote)}"

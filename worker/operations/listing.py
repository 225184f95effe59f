"""Lists with the connector's OData options (``$filter``, ``$orderby``, ``$top``, ``$skip``).

``$top`` absent means all, up to :data:`MAX_LIST`; Graph's pages are followed until that many.
The route checked the options' form; what Graph still refuses in them (a property it does not
know, say) is 400 ``invalid_odata`` with Graph's message.
"""

from __future__ import annotations

from typing import Any

from worker.graph.client import GraphClient, GraphError

MAX_LIST = 256
INVALID_ODATA = "invalid_odata"


def wanted(params: dict[str, Any]) -> int:
    return int(params.get("$top") or MAX_LIST)


def odata_query(params: dict[str, Any], *, filtering: bool = True) -> dict[str, str]:
    """Graph's query for the caller's options (``filtering=False``: leave ``$filter`` out)."""
    query = {"$top": str(wanted(params))}
    for name in ("$filter", "$orderby", "$skip") if filtering else ("$orderby", "$skip"):
        if params.get(name) not in (None, ""):
            query[name] = str(params[name])
    return query


def collect(
    graph: GraphClient,
    mailbox: str,
    path: str,
    query: dict[str, str],
    want: int,
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """:meth:`GraphClient.collect`, Graph's refusal of the caller's options made ours."""
    try:
        return graph.collect(mailbox, path, query, want, headers)
    except GraphError as exc:
        if exc.status == 400 and ("$filter" in query or "$orderby" in query):
            raise GraphError(400, INVALID_ODATA, exc.message) from None
        raise

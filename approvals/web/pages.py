"""Recipient pages: GET shows a confirmation form and records nothing; only its POST records.

Mail scanners open every link (and some submit forms on load), so a choice counts only when a
person presses Confirm on a page carrying a nonce we signed for this link and option.
"""

from __future__ import annotations

import logging

from flask import Response, make_response, render_template, request
from pydantic_core import PydanticCustomError

from approvals.approval.responses import LinkState, Outcome, inspect_link, record_response
from approvals.approval.schemas import split_addresses
from approvals.errors import InvalidToken
from approvals.policies.reassign import Refusal
from approvals.policies.reassign import reassign as reassign_place
from approvals.policies.settings import PolicySettings
from approvals.timefmt import iso
from approvals.web.runtime import current_runtime

log = logging.getLogger(__name__)

MAX_COMMENT = 2000
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _page(template: str, status: int, **context: object) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers.update(SECURITY_HEADERS)
    return response


def _message(title: str, status: int, *lines: str, choice: str | None = None) -> Response:
    return _page("pages/message.html", status, title=title, lines=lines, choice=choice)


def _decided_lines(state: LinkState) -> list[str]:
    """How and by whom a policy request was decided, for whoever opens a link afterwards."""
    subscription = state.subscription
    assert subscription is not None
    if subscription.outcome == "undecided":
        lines = ["This request ended without a decision."]
    else:
        lines = [f"This request was decided: {subscription.decided_option}."]
    lines += [
        f"{a.address} chose {a.option} at {iso(a.responded_at)}"
        + (f" ({a.comment})" if a.comment else "")
        for a in state.answers
    ]
    return lines


def _closed_page(state: LinkState) -> Response:
    """The page for every link that can no longer take an answer."""
    if state.outcome is Outcome.DECIDED and state.subscription is not None:
        return _message("Already decided", 409, *_decided_lines(state))
    if state.outcome is Outcome.REASSIGNED:
        return _message(
            "Handed on",
            410,
            f"This request was handed to {state.handed_to}; this link no longer takes answers.",
        )
    if state.outcome is Outcome.ALREADY_ANSWERED and state.response is not None:
        when = iso(state.response.responded_at)
        return _message(
            "Already answered",
            409,
            f"This request was already answered by {state.answered_by} at {when}:",
            choice=state.response.option,
        )
    if state.outcome is Outcome.CANCELLED:
        return _message(
            "Request withdrawn",
            410,
            "The sender withdrew this request; no answer is needed any more.",
        )
    if state.outcome is Outcome.EXPIRED:
        return _message(
            "Request expired", 410, "This request has expired and no longer takes answers."
        )
    if state.outcome is Outcome.BAD_OPTION:
        return _message(
            "Unknown option",
            400,
            "This link does not name one of the request's options. Use a button from the email.",
        )
    return _message(
        "Link not valid",
        404,
        "This link is not valid. It may have been copied "
        "incompletely; use the button in the email.",
    )


def _printable(text: str) -> str:
    """Drop control characters (NUL cannot be stored) but keep line breaks and tabs."""
    return "".join(c for c in text if c.isprintable() or c in "\n\t")


def _option_arg(raw: str | None) -> int | None:
    # ASCII digits only: str.isdigit() also accepts "²" and "①", which int() refuses.
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 6 else None


def show(token: str) -> Response:
    runtime = current_runtime()
    try:
        target = runtime.links.read_response_token(token)
    except InvalidToken:
        return _closed_page(LinkState(Outcome.UNKNOWN))
    option = _option_arg(request.args.get("option"))
    with runtime.db.session() as session:
        state = inspect_link(session, target, option)
        if state.outcome is not None:
            return _closed_page(state)
        assert option is not None
        return _confirm_page(token, state, option, 200)


def _confirm_page(
    token: str, state: LinkState, option: int, status: int, error: str = ""
) -> Response:
    """The form a person confirms on; shown again (``error``) when a POST was refused."""
    assert state.subscription is not None and state.recipient is not None
    runtime = current_runtime()
    options = state.subscription.options
    settings = PolicySettings.of(state.subscription.policy)
    return _page(
        "pages/confirm.html",
        status,
        title="Confirm your answer",
        subject=state.subscription.message.get("Subject", ""),
        option=option,
        option_label=options[option],
        other_options=[(i, label) for i, label in enumerate(options) if i != option],
        nonce=runtime.links.confirm_nonce(token, option),
        action=request.path,
        address=state.recipient.address,
        max_comment=MAX_COMMENT,
        comment_required=options[option] in settings.require_comment,
        reassign_nonce=runtime.links.reassign_nonce(token) if settings.allow_reassign else None,
        first=settings.first,
        error=error,
    )


def confirm(token: str) -> Response:
    runtime = current_runtime()
    option = _option_arg(request.form.get("option"))
    try:
        target = runtime.links.read_response_token(token)
        if option is None:
            raise InvalidToken("no option")
        runtime.links.check_confirm_nonce(request.form.get("nonce", ""), token, option)
    except InvalidToken:
        return _message(
            "Please confirm from the page",
            400,
            "This answer did not come from the "
            "confirmation page. Open the button in the email again and press Confirm.",
        )
    comment = _printable(request.form.get("comment", "")).strip()[:MAX_COMMENT]
    with runtime.db.session() as session:
        state = record_response(
            session,
            target,
            option,
            comment=comment,
            remote_addr=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:1000],
        )
        if state.outcome is Outcome.COMMENT_REQUIRED:
            return _confirm_page(
                token, state, option, 400, "Please write a comment: this answer needs one."
            )
        if state.outcome is not Outcome.RECORDED:
            return _closed_page(state)
        chosen = state.response.option if state.response else ""
    log.info(
        "response recorded",
        extra={"subscription_id": target.subscription_id, "delivery_id": state.delivery_id},
    )
    return _message("Thank you", 200, "Your answer was recorded:", choice=chosen)


def reassign(token: str) -> Response:
    """Hand the recipient's place to another address: only this form's POST does it."""
    runtime = current_runtime()
    try:
        target = runtime.links.read_response_token(token)
        runtime.links.check_reassign_nonce(request.form.get("reassign_nonce", ""), token)
    except InvalidToken:
        return _message(
            "Please use the page's form",
            400,
            "This request did not come from the response page. Open the button in the email "
            "again and use the form there.",
        )
    try:
        address = split_addresses(request.form.get("address", ""))
    except PydanticCustomError as exc:
        return _message("Not a valid address", 400, str(exc))
    if len(address) != 1:
        return _message("One address, please", 400, "Hand this request to one address.")
    with runtime.db.session() as session:
        state = inspect_link(session, target, 0)
        if state.outcome is not None:
            return _closed_page(state)
        assert state.subscription is not None and state.recipient is not None
        handed = reassign_place(
            session,
            state.subscription,
            state.recipient,
            address[0],
            remote_addr=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:1000],
        )
        if handed is Refusal.NOT_ALLOWED:
            return _message("Not possible", 400, "This request cannot be handed on.")
        if handed is Refusal.ALREADY_ASKED:
            return _message("Already asked", 409, f"{address[0]} is already asked this request.")
        if handed is Refusal.CLOSED:
            return _closed_page(inspect_link(session, target, 0))
    return _message(
        "Handed on",
        200,
        f"{address[0]} now has your place and gets the email; your link no longer works.",
    )

"""Helpers that act as an API client and as a person answering an email."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

APPROVAL = "/approvalmail/$subscriptions"
OPTIONS = "/mailwithoptions/$subscriptions"


@dataclass
class ApiUser:
    id: str
    key: str
    webhook_secret: str
    http: httpx.Client

    def subscribe(
        self, to: str, notification_url: str, kind: str = APPROVAL, **message: Any
    ) -> dict[str, Any]:
        response = self.http.post(
            kind, json={"NotificationUrl": notification_url, "Message": {"To": to, **message}}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def state(self, subscription_id: str, kind: str = APPROVAL) -> dict[str, Any]:
        response = self.http.get(f"{kind}/{subscription_id}")
        assert response.status_code == 200, response.text
        return response.json()


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def option_links(message: EmailMessage) -> list[str]:
    """The button links of the email's HTML part, in order."""
    return [
        link.replace("&amp;", "&")
        for link in re.findall(r'href="([^"]+/respond/[^"]+)"', html_part(message))
    ]


def confirm_form(page: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form."""
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert {"option", "nonce"} <= fields.keys(), page
    return fields


def answer(
    link: str, comment: str = "", user_agent: str = "Mozilla/5.0 (person)"
) -> httpx.Response:
    """What a person does: open the link, read the page, press Confirm."""
    headers = {"User-Agent": user_agent}
    page = httpx.get(link, headers=headers, timeout=20)
    assert page.status_code == 200, page.text
    form = confirm_form(page.text)
    return httpx.post(
        link.split("?")[0], data={**form, "comment": comment}, headers=headers, timeout=20
    )

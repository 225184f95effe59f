"""A person in the dashboard over plain HTTP: signing in, reading a form's CSRF token."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.support.stack import Stack

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no CSRF token on {page.url}"
    return found.group(1)


def signed_in(stack: Stack, key: str) -> httpx.Client:
    """A browser-like client (cookies kept, no redirects followed) signed in with ``key``."""
    browser = httpx.Client(base_url=stack.base_url, timeout=20)
    form = browser.get("/dashboard/signin")
    answer = browser.post(
        "/dashboard/signin", data={"key": key, "csrf_token": csrf_of(form), "next": ""}
    )
    assert answer.status_code == 303, answer.text
    return browser


def signin_link(stack: Stack) -> str:
    """A one-time link from the real ``approvals signin-link`` command of the stack."""
    done = subprocess.run(
        [sys.executable, "-P", "-m", "approvals.cli", "signin-link"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    link = done.stdout.strip().splitlines()[-1]
    assert link.startswith(f"{stack.base_url}/dashboard/signin/"), done.stdout
    return link

"""Email HTML templates with their CSS inlined once, when the template is loaded.

Many mail clients drop ``<style>`` blocks, so every rule must sit in a ``style`` attribute.
css_inline does that; run on each rendered message it was an eighth of a worker's time per
mail, so it runs on the template's source instead. Jinja's tags are hidden from the HTML
parser as comments while it runs (inside a table a bare ``{% for %}`` would be moved out of
it) and put back afterwards. Every table in these templates spells out its ``<tbody>``: one
the parser had to add could land inside a ``{% if %}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import css_inline
from jinja2 import Environment, FileSystemLoader

_JINJA_TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_HIDDEN_TAG = re.compile(r"<!--jinja:(\d+)-->")


def inline_template(source: str) -> str:
    """``source`` with its stylesheet moved into ``style`` attributes, Jinja tags intact."""
    tags: list[str] = []

    def hide(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"<!--jinja:{len(tags) - 1}-->"

    inlined = css_inline.inline(
        _JINJA_TAG.sub(hide, source), load_remote_stylesheets=False, keep_style_tags=False
    )
    restored = _HIDDEN_TAG.sub(lambda match: tags[int(match.group(1))], inlined)
    if len(_JINJA_TAG.findall(restored)) != len(tags):
        raise ValueError("a Jinja tag was lost while inlining CSS")
    return restored


class InlinedHtmlLoader(FileSystemLoader):
    """A FileSystemLoader whose ``.html`` templates come with their CSS inlined."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith(".html"):
            source = inline_template(source)
        return source, filename, uptodate

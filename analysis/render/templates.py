"""The pages' templates (``analysis/render/templates``, shipped in the wheel) and the filters
they share. HTML templates are autoescaped; Markdown ones are not, and every results value they
show passes ``md`` (table cells) or is neutralised when the page is written
(``output.markdown_safe``)."""

from __future__ import annotations

import base64
import functools
import html
import re
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup


def inline_html(markdown: str) -> Markup:
    """The Markdown marks the generated texts use (`code`, **bold**, ~~struck~~) as HTML."""
    text = html.escape(markdown, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return Markup(re.sub(r"~~(.+?)~~", r"<s>\1</s>", text))


def slug(*parts: object) -> str:
    """An HTML id from ``parts`` (letters, digits, ``-``)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(str(p) for p in parts)).strip("-").lower()


def html_table(df: pd.DataFrame, table_id: str | None = None,
               classes: str | None = None) -> Markup:
    """``df`` as an HTML table by pandas (cells escaped); its id ``table-<table_id>`` (never a
    section's id)."""
    if df.empty:
        return Markup("<p><em>(no rows)</em></p>")
    return Markup(df.to_html(index=False, table_id=f"table-{table_id}" if table_id else None,
                             na_rep="", border=0, escape=True, classes=classes))


def md_cell(value: Any) -> str:
    """A Markdown table cell: ``|`` escaped, ``<`` and ``>`` as entities."""
    return str(value).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analysis.render", "templates"),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)
    env.filters.update(inline=inline_html, html_table=html_table, md=md_cell, slug=slug,
                       base64=lambda data: base64.b64encode(data).decode("ascii"))
    return env


def render(name: str, **context: Any) -> str:
    """Template ``name`` rendered with ``context``."""
    return environment().get_template(name).render(**context)


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as it is (cells already formatted) as a GitHub table (``tables.md``)."""
    return environment().get_template("tables.md").module.table(df).rstrip("\n")

"""Template helpers for the pages: Markdown rendered safely, and small display formats.

Instructions are written by leads but shown to every annotator (and crowd worker), so they are
rendered with ``markdown`` and then cleaned with ``nh3`` (an allow-list HTML sanitiser): raw HTML,
scripts, event handlers and ``javascript:`` links never reach the page.
"""

from __future__ import annotations

from datetime import datetime

import markdown as md
import nh3
from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

register = template.Library()

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "td": {"align"}, "th": {"align"}}


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML. Links open safely (``rel=noopener noreferrer``)."""
    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    return nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer")


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    return mark_safe(render_markdown(text))  # noqa: S308 - cleaned by nh3 above


@register.filter
def percent(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.{digits}f}%"


@register.filter
def label(value) -> str:
    """A label as people read it: lists joined, nothing as a dash (escaped by the template)."""
    if value is None:
        return "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


@register.filter
def ago(when: datetime | None) -> str:
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when).split(',')[0]} ago"

"""``{% load once %}{% form_token %}``: the one-time token of a POST form (web/once.py)."""

from django import template
from django.utils.html import format_html

from compliance.web.once import FIELD, new_token

register = template.Library()


@register.simple_tag
def form_token():
    """The hidden one-time token of a POST form (no id: a page holds many forms)."""
    return format_html('<input type="hidden" name="{}" value="{}">', FIELD, new_token())

"""Template filters over workflows.common.wording: verbs, step kinds, event details and people."""

from django import template

from workflows.common import wording

register = template.Library()


@register.filter
def verb_words(verb: str) -> str:
    """'task_created' → 'Step opened'."""
    return wording.verb_label(verb or "")


@register.filter
def event_words(event) -> str:
    """An audit event as one phrase ('Cascaded to Guangdong, Beijing'), naming the substitute
    and the person when one acted for the other ('Approved by Wang Wei on behalf of Li Na')."""
    return wording.event_sentence_by(event)


@register.filter
def on_behalf(event) -> str:
    """The name of the person a substitute acted for in this event, '' when none."""
    return wording.on_behalf_name(event)


@register.filter
def kind_words(kind: str) -> str:
    """'implement' → 'Implement'."""
    return wording.kind_label(kind or "")


@register.filter
def detail_lines(data) -> list[tuple[str, str]]:
    """An event's data as (label, value) lines."""
    return wording.detail_lines(data)


@register.filter
def event_details(event) -> list[tuple[str, str]]:
    """An audit event's data as (label, value) lines, less what its row already shows."""
    return wording.event_details(event)


@register.filter
def person(user) -> str:
    """Full name, falling back to the user name."""
    return wording.person(user)


@register.simple_tag
def zone_words() -> str:
    """The active time zone in words ('Beijing time'), never an abbreviation like 'CST'."""
    return wording.zone_name()


@register.filter
def order_colour(value: str) -> str:
    """A supervision order's colour key ('orange') as a word in the active language."""
    return wording.order_colour_label(value or "")


@register.filter
def level_words(key: str) -> str:
    """An organisation level's key as its title in the active language."""
    return wording.level_name(key or "")


@register.filter
def when_words(value) -> str:
    """A date or ISO string in the active language's date style and time zone."""
    return wording.when(value) if value else ""


MENU_SECTIONS = {
    "index": "home",
    "dashboard": "programme",
    "case": "programme",
    "supervision": "programme",
    "cycle": "programme",
    "launch": "programme",
    "dashboard_cases": "programme",
    "my_work": "my_work",
    "inbox": "inbox",
    "task": "inbox",
    "reassign": "inbox",
}


@register.filter
def menu_section(request) -> str:
    """Which side-menu item a page belongs to ('' when none): a case page to the programme,
    a task page to the inbox."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.app_name != "workflows":
        return ""
    return MENU_SECTIONS.get(match.url_name, "")

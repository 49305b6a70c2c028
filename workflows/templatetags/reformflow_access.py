"""Role checks for templates that have no view context of their own (the app menu)."""

from django import template
from django.utils.html import format_html
from django.utils.translation import get_language, ngettext

from workflows.cases import worklist
from workflows.common import reach as access
from workflows.templatetags.wording import menu_section

register = template.Library()


@register.filter
def sees_everything(user) -> bool:
    """National auditors and coordinators: the engine pages are theirs."""
    return access.sees_everything(user)


@register.filter
def reads_logs(user) -> bool:
    """Auditors and coordinators: the notification log and the audit desk (their reach)."""
    return access.reads_logs(user)


# --------------------------------------------------------------------------- the side menu

# The rendered primary menu, by (language, application, sees everything, reads the logs). Its
# links depend on nothing else: the menus show or hide entries by those two checks alone (the
# engine app's has_view_permission is `sees_everything`, workflows/cases/flow.py). Rendering it was
# about a third of a bare page's CPU time (bench/RESULTS.md); it changes only with a deploy, so
# each worker process renders it once per key.
_MENU_CACHE: dict[tuple, str] = {}


class MenuOnceNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context) -> str:
        request = context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.nodelist.render(context)
        app = context.get("app")
        key = (
            get_language(),
            getattr(app, "app_name", None),
            access.sees_everything(user),
            access.reads_logs(user),
            menu_section(request),  # the item marked as the current page's section
        )
        html = _MENU_CACHE.get(key)
        if html is None:
            html = _MENU_CACHE[key] = self.nodelist.render(context)
        # The one per-person part of the menu: how many items wait in My work (one query).
        if WORK_COUNT_MARK in html:
            html = html.replace(WORK_COUNT_MARK, work_count_badge(user), 1)
        return html


WORK_COUNT_MARK = "<!--rf-work-count-->"


def work_count_badge(user) -> str:
    """The count beside "My work" in the menu, empty when nothing waits."""
    count = worklist.work_count(user)
    if not count:
        return ""
    label = ngettext("%(count)d item waits", "%(count)d items wait", count) % {"count": count}
    return format_html(' <span class="rf-count" title="{}">{}</span>', label, count)


@register.tag
def menu_once(parser, token):
    """{% menu_once %}…{% endmenu_once %}: render the enclosed menu once per role and language."""
    nodelist = parser.parse(("endmenu_once",))
    parser.delete_first_token()
    return MenuOnceNode(nodelist)

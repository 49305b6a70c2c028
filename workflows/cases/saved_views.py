"""Saved views: a person names the filters and sort of their inbox or queue and replays them.

The query string is parsed by workflows.cases.listing before it is stored, so a saved view holds
only parameters the list accepts; the list still applies the user's reach when replayed.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _

from workflows.audit.trail import audit_record
from workflows.cases import listing
from workflows.common import bounds
from workflows.models import SavedView

MAX_PER_PAGE = 20
PAGES = dict(SavedView.PAGES)


def saved_view_list(user, page: str) -> list[SavedView]:
    """The user's saved views of one list, by name (one query)."""
    return list(SavedView.objects.filter(user=user, page=page).order_by("name", "pk"))


def saved_view_save(*, user, page: str, name: str, querystring: str) -> SavedView:
    """Store (or replace, by name) one of the user's views; audited. ValidationError says why
    a page, name or query string is refused (bounds.InputRejected for a bad parameter)."""
    if page not in PAGES:
        raise ValidationError({"page": _("Must be one of: %s.") % ", ".join(PAGES)})
    name = " ".join(bounds.clean_text(name).split())[:60]
    if not name:
        raise ValidationError({"name": _("Give the view a name.")})
    params = listing.parse_list_params(QueryDict(bounds.clean_text(querystring)[:300]))
    with transaction.atomic():
        existing = SavedView.objects.filter(user=user, page=page)
        if existing.count() >= MAX_PER_PAGE and not existing.filter(name=name).exists():
            raise ValidationError(
                {"name": _("At most %(count)d saved views per list.") % {"count": MAX_PER_PAGE}}
            )
        view, _created = SavedView.objects.update_or_create(
            user=user, page=page, name=name, defaults={"querystring": params.querystring()}
        )
        audit_record(
            verb="saved_view_saved",
            actor=user,
            data={"page": page, "name": name, "query": view.querystring},
        )
    return view


def saved_view_delete(*, user, view_id: int) -> str:
    """Delete one of the user's own views (404 for anyone else's); audited. Returns its page."""
    with transaction.atomic():
        view = SavedView.objects.select_for_update().filter(user=user, pk=view_id).first()
        if view is None:
            raise Http404
        page = view.page
        audit_record(verb="saved_view_deleted", actor=user, data={"page": page, "name": view.name})
        view.delete()
    return page

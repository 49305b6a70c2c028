"""Case pages: home, the programme dashboard, the task lists, a case with its history,
comments and cascade, launching, and evidence downloads. Thin: selectors read, services write.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from workflows.audit import files as audit_files
from workflows.cases import (
    cascade,
    cascade_jobs,
    decision_context,
    listing,
    saved_views,
    selectors,
    services,
    worklist,
)
from workflows.cases import evidence as cases_evidence
from workflows.cases import launch as cases_launch
from workflows.cases.timeline import case_timeline, timeline_svg
from workflows.common import page_cache, wording
from workflows.common import reach as access
from workflows.common.db_router import replica_view
from workflows.models import (
    AuditEvent,
    CascadeJob,
    CatalogueSource,
    DeadlineChange,
    Escalation,
    Measure,
    Organisation,
    OrganisationLevel,
)
from workflows.models.organisation import bilingual
from workflows.web import forms
from workflows.web.dashboard import dashboard_context, programme_cached
from workflows.web.flash import error_text
from workflows.web.fragments import fragment_cached

PAGE_SIZE = 50
# Home shows this many of My work's most urgent items.
HOME_WORK_SHOWN = 5


CASE_HISTORY_SHOWN = 100


def paginate(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def home(request):
    user = request.user
    headed, staffed = access.user_department_ids(user)
    context = {
        "is_coordinator": access.is_coordinator(user),
        "is_auditor": access.is_auditor(user),
        # What a new user should do first depends on the roles they hold; a person can hold
        # several (a head who also supervises), so each gets its own line.
        "is_head": bool(headed),
        "is_staff_member": bool(staffed),
        "is_leader": bool(access.user_leader_role_ids(user)),
        "is_admin": user.is_staff,
        # Home opens on the most urgent of My work.
        "work": worklist.work_list(user, limit=HOME_WORK_SHOWN),
        "work_count": worklist.work_count(user),
        # The inbox's and the queues' counts, kept as My work's count is (per own reach and
        # change stamp: every hand-off bumps it).
        **page_cache.kept(
            page_cache.cache_key("home_counts", user, personal=True, localised=False),
            lambda: {
                "inbox_count": selectors.work_item_list_inbox(user).count(),
                "queue_count": selectors.work_item_list_queue(user).count(),
            },
            worklist.WORK_COUNT_CACHE_SECONDS,
        ),
        "source": CatalogueSource.objects.first(),
    }
    return render(request, "workflows/home.html", context)


def programme_filters(user, params) -> tuple[Organisation | None, str | None]:
    """The dashboard's ?organisation=<code> and ?level=<key>; unknown or out of reach: 404."""
    organisation = level = None
    code = params.get("organisation") or ""
    if code:
        organisation = selectors.organisation_get_visible(user, code)
    if params.get("level"):
        level = params["level"]
        if not OrganisationLevel.objects.filter(key=level).exists():
            raise Http404
    return organisation, level


@login_required
@replica_view
def dashboard(request):
    organisation, level = programme_filters(request.user, request.GET)
    main, charts = programme_cached(
        request,
        organisation=organisation,
        level=level,
        build=lambda: _programme_main(request, organisation, level),
    )
    return render(request, "workflows/dashboard.html", {"main": main, "charts": charts})


def _programme_main(request, organisation: Organisation | None, level: str | None) -> dict:
    """The dashboard's programme: filters, figure tiles and charts, and the measure rows."""
    # The menu lists the user's organisation and the ones right below; any other in reach
    # works by its code in the URL (there may be thousands).
    # No organisation at all before the catalogue is loaded: the page says how to load it.
    home = access.organisation_default(request.user)
    # Codes and titles only: a hundred federations may sit right below the national one.
    organisation_choices = (
        [
            (code, bilingual(title_en, title_zh))
            for code, title_en, title_zh in selectors.organisation_list_visible(request.user)
            .filter(Q(pk=home.pk) | Q(parent=home))
            .values_list("code", "title_en", "title_zh")
        ]
        if home
        else []
    )
    aspects = selectors.programme_rows(
        request.user, organisation=organisation, level=level, page=request.GET.get("page")
    )
    return {
        "aspects": aspects,
        "any_launched": any(row.case for _aspect, rows in aspects for row in rows),
        "source": CatalogueSource.objects.first(),
        "is_coordinator": access.is_coordinator(request.user),
        "organisation_choices": organisation_choices,
        "level_choices": [(lv.key, lv.title) for lv in OrganisationLevel.objects.all()],
        "selected_organisation": organisation.code if organisation else "",
        "selected_level": level or "",
        # The bulletin of the federation shown (the user's own when none is chosen).
        "bulletin_organisation": organisation or home,
        # Figure tiles and charts (workflows/web/dashboard.py), as the programme PDF's.
        **dashboard_context(request.user, organisation),
    }


def _task_list(request, queryset, *, title, empty, template="workflows/task_list.html"):
    queryset = decision_context.round_marks(queryset)  # issue 17: returned/resubmitted marks
    return render(
        request, template, {"page": paginate(request, queryset), "title": title, "empty": empty}
    )


def _filtered_task_list(request, rows, *, title, empty, page_key, claim=False):
    """A task list with the filters and sort of workflows.cases.listing (inbox, queue), and the
    user's saved views of it. Its main part is kept per change stamp, person (their own
    reach: queues, stand-ins), language and time zone, filters and page (web/fragments.py);
    `rows()` gives the reach-checked tasks, read only on a miss."""
    params = listing.parse_list_params(request.GET)
    # The page as the key holds it is the page read: a longer value is cut for both.
    page = (request.GET.get("page") or "")[:20]
    main, _extra = fragment_cached(
        request,
        name=f"tasks:{page_key}",
        parts=(params, page),
        own_reach=True,
        whole_path=False,
        build=lambda: (
            "workflows/_task_list_main.html",
            {
                "page": Paginator(
                    decision_context.round_marks(listing.apply_list_filters(rows(), params)),
                    PAGE_SIZE,
                ).get_page(page),
                "title": title,
                "empty": empty,
                "claim": claim,
                "page_key": page_key,
                # Saving or deleting one is audited, which moves the stamp.
                "saved_views": saved_views.saved_view_list(request.user, page_key),
                **listing.list_context(params),
            },
        ),
    )
    return render(request, "workflows/task_list.html", {"main": main, "title": title})


@login_required
def inbox(request):
    return _filtered_task_list(
        request,
        lambda: selectors.work_item_list_inbox(request.user),
        page_key="inbox",
        title=_("Inbox"),
        empty=_("Nothing waits for you. Tasks assigned to you will appear here."),
    )


@login_required
def queue(request):
    return _filtered_task_list(
        request,
        lambda: selectors.work_item_list_queue(request.user),
        page_key="queue",
        claim=True,
        title=_("Queue"),
        empty=_(
            "No unclaimed tasks in your departments' queues. Tasks routed to your department"
            " appear here until one of you claims them."
        ),
    )


@login_required
def archive(request):
    return _task_list(
        request,
        selectors.work_item_list_archive(request.user),
        title=_("Archive"),
        empty=_(
            "You have not finished any task yet. Tasks you submit, approve, return or complete"
            " will be listed here."
        ),
    )


@login_required
def case_detail(request, case_id):
    # Reach first, on every request; the page itself is read and rendered once per change
    # stamp, user and language (web/fragments.py).
    selectors.case_check_visible(request.user, case_id)
    main, extra = fragment_cached(
        request,
        name="case",
        parts=(case_id,),
        build=lambda: ("workflows/_case_main.html", _case_context(request, case_id)),
    )
    return render(
        request, "workflows/case_detail.html", {"main": main, "heading": extra["heading"]}
    )


def _case_context(request, case_id) -> dict:
    """Everything the case page shows (workflows/_case_main.html)."""
    case = selectors.case_get_detail(case_id)
    # The latest events only: a national case collects one per child completing, and the audit
    # desk has the whole trail, paged (the page links to it).
    events = AuditEvent.objects.filter(case=case)
    latest = wording.events_primed(
        list(events.select_related("work_item__step", "actor").order_by("-pk")[:CASE_HISTORY_SHOWN])
    )
    latest.reverse()
    # The tasks once for the table and the timeline; the deadline changes once for the list
    # and the timeline.
    items = list(selectors.work_item_list_for_case(case))
    deadline_changes = list(
        DeadlineChange.objects.filter(work_item__case=case).select_related("work_item__step", "by")
    )
    return {
        "extra": {"heading": case.measure.code},
        "case": case,
        "items": items,
        "events": latest,
        "events_total": events.count() if len(latest) == CASE_HISTORY_SHOWN else len(latest),
        "can_see_desk": access.reads_logs(request.user),
        "progress": case.progress_updates.select_related("author", "work_item__step"),
        "evidence": case.evidence.select_related("uploaded_by", "work_item__step"),
        "comments": case.comments.select_related("author"),
        "comment_form": forms.CommentForm(),
        "deadline_changes": deadline_changes,
        "escalations": Escalation.objects.filter(case=case).select_related("work_item__step"),
        "can_comment": not access.is_auditor(request.user),
        "is_coordinator": access.is_coordinator(request.user),
        "rollup": selectors.case_rollup(case, page=request.GET.get("children")),
        "cascade_form": _cascade_form(case, request.user),
        # Steps against their due dates (workflows/timeline.py), as in the completion PDF.
        "timeline": timeline_svg(case_timeline(case, items=items, changes=deadline_changes)),
        "completion_report": case.reports.filter(kind="completion").order_by("-pk").first(),
    }


def _cascade_form(case, user, data=None):
    # The page offers only the federations still without their case (the table lists the
    # others); a repeated post of one already cascaded is still accepted and answered
    # "already there", as the service is idempotent.
    choices = cascade.cascade_choices(case, user, uncascaded=data is None)
    return forms.CascadeForm(data, choices=choices) if choices else None


@login_required
@require_POST
def case_cascade(request, case_id):
    """Cascade the case to organisations directly below (coordinators of this subtree)."""
    case = selectors.case_get_visible(request.user, case_id)
    form = _cascade_form(case, request.user, request.POST)
    if form is None:
        raise PermissionDenied
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    else:
        try:
            result = cascade_jobs.cascade_request(
                case=case,
                by=request.user,
                organisations=form.cleaned_data["organisations"] or None,
                level=form.cleaned_data["level"] or None,
            )
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, error_text(exc))
        else:
            if isinstance(result, CascadeJob):
                # Many federations: created in the background, followed on its own page.
                return redirect("workflows:cascade_job", job_id=result.pk)
            messages.success(
                request,
                wording.cascade_message(len(result.created), len(result.existing)),
            )
    return redirect(reverse("workflows:case", args=[case.pk]) + "#children")


@login_required
@require_POST
def case_comment(request, case_id):
    case = selectors.case_get_visible(request.user, case_id)
    form = forms.CommentForm(request.POST)
    if form.is_valid():
        try:
            services.comment_add(case=case, user=request.user, text=form.cleaned_data["text"])
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, error_text(exc))
    return redirect(reverse("workflows:case", args=[case.pk]) + "#comments")


@login_required
def launch(request):
    if not access.is_coordinator(request.user):
        raise PermissionDenied
    form = forms.LaunchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["all_measures"]:
            measures = list(Measure.objects.order_by("aspect__position", "position"))
        elif form.cleaned_data["measure"]:
            measures = [form.cleaned_data["measure"]]
        else:
            form.add_error("measure", _("Choose a measure, or tick “Launch every measure”."))
            measures = []
        if measures:
            created = 0
            # In the coordinator's own federation (national for the national office).
            home = access.organisation_default(request.user)
            for measure in measures:
                _case, was_created = cases_launch.case_launch(
                    measure=measure, by=request.user, organisation=home
                )
                created += was_created
            messages.success(
                request,
                wording.launch_message(created, len(measures) - created),
            )
            return redirect("workflows:dashboard")
    return render(request, "workflows/launch.html", {"form": form})


@login_required
def evidence_download(request, evidence_id):
    evidence = selectors.evidence_get_visible(request.user, evidence_id)
    try:
        handle = cases_evidence.evidence_open_for_download(evidence=evidence, user=request.user)
    except audit_files.FileGone:
        return file_gone(request, evidence.original_name)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=evidence.original_name,
        content_type="application/octet-stream",
    )
    # Always a download, never rendered by the browser, whatever the file holds; set here as
    # well as by SecurityMiddleware so the guarantee does not hang on one setting.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def file_gone(request, name: str):
    """410: the file is recorded but missing from storage (the attempt is already audited)."""
    return render(request, "410.html", {"name": name}, status=410)

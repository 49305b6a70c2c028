"""Pages: thin views that read through selectors and write through services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from . import (
    access,
    cascade,
    deadlines,
    decision_context,
    forms,
    health,
    languages,
    listing,
    saved_views,
    selectors,
    services,
    wording,
    worklist,
)
from .bounds import InputRejected
from .db_router import replica_view
from .middleware import auditors_may_post
from .models import (
    AuditEvent,
    CatalogueSource,
    DeadlineChange,
    Escalation,
    Measure,
    NotificationStatus,
    Organisation,
    OrganisationLevel,
    Profile,
    Report,
    StepKind,
    WorkItem,
)
from .models.organisation import bilingual
from .timeline import case_timeline, timeline_svg
from .views_dashboard import dashboard_context

PAGE_SIZE = 50
# Home shows this many of My work's most urgent items.
HOME_WORK_SHOWN = 5


CASE_HISTORY_SHOWN = 100
# The reassignment picker lists this many eligible people at most; a search narrows them.
REASSIGN_CANDIDATES_SHOWN = 50


def _page(request, queryset):
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
        "inbox_count": selectors.work_item_list_inbox(user).count(),
        "queue_count": selectors.work_item_list_queue(user).count(),
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
    return render(
        request,
        "workflows/dashboard.html",
        {
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
            # Figure tiles and charts (workflows/views_dashboard.py), as the programme PDF's.
            **dashboard_context(request.user, organisation),
        },
    )


def _task_list(request, queryset, *, title, empty, template="workflows/task_list.html"):
    queryset = decision_context.round_marks(queryset)  # issue 17: returned/resubmitted marks
    return render(
        request, template, {"page": _page(request, queryset), "title": title, "empty": empty}
    )


def _filtered_task_list(request, queryset, *, title, empty, page_key, claim=False):
    """A task list with the filters and sort of workflows.listing (inbox, queue), and the
    user's saved views of it."""
    params = listing.parse_list_params(request.GET)
    return render(
        request,
        "workflows/task_list.html",
        {
            "page": _page(
                request,
                # Returned/resubmitted marks on the filtered rows (issue 17).
                decision_context.round_marks(listing.apply_list_filters(queryset, params)),
            ),
            "title": title,
            "empty": empty,
            "claim": claim,
            "page_key": page_key,
            "saved_views": saved_views.saved_view_list(request.user, page_key),
            **listing.list_context(params),
        },
    )


@login_required
def inbox(request):
    return _filtered_task_list(
        request,
        selectors.work_item_list_inbox(request.user),
        page_key="inbox",
        title=_("Inbox"),
        empty=_("Nothing waits for you. Tasks assigned to you will appear here."),
    )


@login_required
def queue(request):
    return _filtered_task_list(
        request,
        selectors.work_item_list_queue(request.user),
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
    case = selectors.case_get_visible(request.user, case_id)
    # The latest events only: a national case collects one per child completing, and the audit
    # desk has the whole trail, paged (the page links to it).
    events = AuditEvent.objects.filter(case=case)
    latest = wording.events_primed(
        list(events.select_related("work_item__step", "actor").order_by("-pk")[:CASE_HISTORY_SHOWN])
    )
    latest.reverse()
    return render(
        request,
        "workflows/case_detail.html",
        {
            "case": case,
            "items": selectors.work_item_list_for_case(case),
            "events": latest,
            "events_total": events.count() if len(latest) == CASE_HISTORY_SHOWN else len(latest),
            "can_see_desk": access.reads_logs(request.user),
            "progress": case.progress_updates.select_related("author", "work_item__step"),
            "evidence": case.evidence.select_related("uploaded_by", "work_item__step"),
            "comments": case.comments.select_related("author"),
            "comment_form": forms.CommentForm(),
            "deadline_changes": DeadlineChange.objects.filter(work_item__case=case).select_related(
                "work_item__step", "by"
            ),
            "escalations": Escalation.objects.filter(case=case).select_related("work_item__step"),
            "can_comment": not access.is_auditor(request.user),
            "is_coordinator": access.is_coordinator(request.user),
            "rollup": selectors.case_rollup(case, page=request.GET.get("children")),
            "cascade_form": _cascade_form(case, request.user),
            # Steps against their due dates (workflows/timeline.py), as in the completion PDF.
            "timeline": timeline_svg(case_timeline(case)),
            "completion_report": case.reports.filter(kind="completion").order_by("-pk").first(),
        },
    )


def _cascade_form(case, user, data=None):
    choices = cascade.cascade_choices(case, user)
    if data is None:
        # The page offers only the federations still without their case (the table lists the
        # others); a repeated post of one already cascaded is still accepted and answered
        # "already there", as the service is idempotent.
        cascaded = set(case.child_cases.values_list("organisation", flat=True))
        choices = [o for o in choices if o.pk not in cascaded]
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
            result = cascade.case_cascade(
                case=case,
                by=request.user,
                organisations=form.cleaned_data["organisations"] or None,
                level=form.cleaned_data["level"] or None,
            )
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, _message(exc))
        else:
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
            messages.error(request, _message(exc))
    return redirect(reverse("workflows:case", args=[case.pk]) + "#comments")


def _message(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _form_for(item: WorkItem, data=None, files=None):
    if item.kind == StepKind.SUBMIT:
        return forms.SubmitForm(data, files)
    if item.kind == StepKind.IMPLEMENT:
        if data is not None and data.get("action") == "complete":
            return forms.CompleteImplementationForm(data)
        return forms.ProgressForm(data, files)
    return forms.DecisionForm(data)


def _apply(form, item: WorkItem, user, action: str):
    data = form.cleaned_data
    if item.kind == StepKind.SUBMIT:
        if action == "claim":
            return services.task_claim(item=item, user=user)
        return services.task_submit(
            item=item, user=user, note=data["note"], files=data.get("files") or []
        )
    if item.kind == StepKind.IMPLEMENT:
        if action == "complete":
            return services.task_complete(item=item, user=user, note=data.get("note", ""))
        return services.progress_report(
            item=item,
            user=user,
            percent=data["percent"],
            note=data["note"],
            files=data.get("files") or [],
        )
    if data["decision"] == "return":
        return services.task_return(item=item, user=user, reason=data["comment"])
    return services.task_approve(item=item, user=user, comment=data["comment"])


@login_required
def task_detail(request, task_id):
    item = selectors.work_item_get_visible(request.user, task_id, "case", "step", "assignee")
    case = selectors.case_get_detail(item.case_id)
    try:
        access.check_can_act(request.user, item)
        refusal = ""
    except PermissionDenied as exc:
        refusal = str(exc)
    action = request.POST.get("action", "")
    form = _form_for(item)
    decision = decision_context.decision_context(item)  # issue 17: what is decided
    decision_context.prefill(form, item, decision)
    if request.method == "POST":
        if action == "claim":
            try:
                services.task_claim(item=item, user=request.user)
                messages.success(request, _("The task is yours."))
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
            return redirect("workflows:task", task_id=item.pk)
        form = _form_for(item, request.POST, request.FILES)
        if form.is_valid():
            try:
                _apply(form, item, request.user, action)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("files" if "files" in form.fields else None, message)
            except (PermissionDenied, services.TaskConflict) as exc:
                messages.error(request, str(exc))
                return redirect("workflows:task", task_id=item.pk)
            else:
                messages.success(request, wording.handoff_message(item))
                if item.kind == StepKind.IMPLEMENT and action != "complete":
                    return redirect("workflows:task", task_id=item.pk)
                return redirect("workflows:case", case_id=item.case_id)
    return render(
        request,
        "workflows/task_detail.html",
        {
            "item": item,
            "case": case,
            "form": form,
            "decision": decision,
            "complete_form": forms.CompleteImplementationForm()
            if item.kind == StepKind.IMPLEMENT
            else None,
            "refusal": refusal,
            "can_claim": item.is_open
            and item.assignee_id is None
            and access.is_candidate(request.user, item),
            "is_coordinator": access.is_coordinator(request.user),
            "can_reassign": item.is_open and access.can_coordinate(request.user, case.organisation),
            "evidence": item.evidence.all(),
            "can_manage_deadline": item.is_open
            and _may(deadlines.check_can_manage_deadline, request.user, item),
            # Own id prefixes: these forms share field names with the reassign form.
            "extend_form": forms.ExtendDeadlineForm(auto_id="extend_%s"),
            "pause_form": forms.PauseForm(auto_id="pause_%s"),
            "resume_form": forms.ResumeForm(auto_id="resume_%s"),
            "deadline_changes": item.deadline_changes.select_related("by"),
            "open_children": services.open_child_count(item.case)
            if item.kind == StepKind.IMPLEMENT and item.is_open
            else 0,
            "can_override": item.kind == StepKind.IMPLEMENT
            and item.is_open
            and item.guard_overridden_by_id is None
            and access.can_coordinate(request.user, case.organisation),
            "override_form": forms.GuardOverrideForm(),
        },
    )


@login_required
@require_POST
def task_guard_override(request, task_id):
    """A coordinator lets an implementation step close while child cases are still open."""
    item = selectors.work_item_get_visible(request.user, task_id, "case")
    form = forms.GuardOverrideForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the reason for the override."))
        return redirect("workflows:task", task_id=task_id)
    try:
        services.task_complete_override(
            item=item, by=request.user, reason=form.cleaned_data["reason"]
        )
    except (PermissionDenied, ValidationError, services.TaskConflict) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(
            request, _("The implementation may now be declared done with child cases open.")
        )
    return redirect("workflows:task", task_id=task_id)


def _may(check, *args) -> bool:
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


_DEADLINE_ACTIONS = {
    "extend": (
        forms.ExtendDeadlineForm,
        lambda item, user, data: deadlines.deadline_extend(
            item=item, by=user, new_date=data["new_date"], reason=data["reason"]
        ),
        _("The deadline is extended."),
    ),
    "pause": (
        forms.PauseForm,
        lambda item, user, data: deadlines.task_pause(item=item, by=user, reason=data["reason"]),
        _("The task is paused; its clock has stopped."),
    ),
    "resume": (
        forms.ResumeForm,
        lambda item, user, data: deadlines.task_resume(item=item, by=user, reason=data["reason"]),
        _("The task is resumed; its due date moved by the paused working days."),
    ),
}


@login_required
@require_POST
def task_deadline(request, task_id):
    """Extend (coordinators), pause or resume (coordinators, lead department head) a task."""
    item = selectors.work_item_get_visible(request.user, task_id, "case")
    action = request.POST.get("action", "")
    if action not in _DEADLINE_ACTIONS:
        messages.error(request, _("Unknown deadline action."))
        return redirect("workflows:task", task_id=task_id)
    form_class, apply, done = _DEADLINE_ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return redirect("workflows:task", task_id=task_id)
    try:
        apply(item, request.user, form.cleaned_data)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(request, done)
    return redirect("workflows:task", task_id=task_id)


@login_required
def notification_log(request):
    """The notification log, for coordinators and auditors: the messages within their reach."""
    if not access.reads_logs(request.user):
        raise PermissionDenied
    status = request.GET.get("status", "")
    rows = selectors.notification_list(request.user, status=status or None)
    return render(
        request,
        "workflows/notifications.html",
        {"page": _page(request, rows), "status": status, "statuses": NotificationStatus.choices},
    )


@auditors_may_post  # their own mail preference, not case data
@login_required
def notification_preferences(request):
    """Each user chooses immediate mail or the daily digest only."""
    profile, _created = Profile.objects.get_or_create(user=request.user)
    form = forms.NotificationPreferenceForm(
        request.POST or None, initial={"notification_mode": profile.notification_mode}
    )
    if request.method == "POST" and form.is_valid():
        services.notification_mode_set(
            user=request.user, mode=form.cleaned_data["notification_mode"]
        )
        messages.success(request, _("Your notification preference is saved."))
        return redirect("workflows:preferences")
    return render(request, "workflows/preferences.html", {"form": form})


@login_required
def task_reassign(request, task_id):
    """The reassignment picker (GET, `?q=` searches) and the reassignment itself (POST): a
    task goes only to people who could act on its step, in its case's federation."""
    item = selectors.work_item_get_visible(
        request.user, task_id, "case__organisation", "case__measure", "step", "department"
    )
    if not access.can_coordinate(request.user, item.case.organisation):
        raise PermissionDenied
    query = (request.GET.get("q") or "").strip()[:100]
    form = forms.ReassignForm(request.POST or None, item=item)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.task_reassign(
                    item=item,
                    by=request.user,
                    to_user=form.cleaned_data["to"],
                    reason=form.cleaned_data["reason"],
                )
            except (ValidationError, services.TaskConflict) as exc:
                messages.error(request, _message(exc))
                return redirect("workflows:task", task_id=task_id)
            messages.success(request, _("Reassigned."))
            return redirect("workflows:task", task_id=task_id)
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    candidates = list(access.reassign_candidate_list(item, q=query)[:REASSIGN_CANDIDATES_SHOWN])
    return render(
        request,
        "workflows/reassign.html",
        {
            "item": item,
            "form": form,
            "q": query,
            "candidates": candidates,
            "more": len(candidates) == REASSIGN_CANDIDATES_SHOWN,
        },
    )


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
                _case, was_created = services.case_launch(
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
        handle = services.evidence_open_for_download(evidence=evidence, user=request.user)
    except services.FileGone:
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


@never_cache
@require_GET
def healthz(request):
    """Public health check: 200 when the database answers and mail goes out, else 503
    (`?scope=web`: the database alone); names no host, secret or error text."""
    report, healthy = health.health_report(scope=request.GET.get("scope", ""))
    return JsonResponse(report, status=200 if healthy else 503)


def bad_request(request, exception):
    """400 for any URL: the refused field and why when a bound refused a query parameter
    (bounds.InputRejected), else the generic page; JSON under /api/."""
    problem = str(exception) if isinstance(exception, InputRejected) else ""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": problem or "Bad request."}, status=400)
    return render(request, "400.html", {"problem": problem}, status=400)


def page_not_found(request, exception):
    """404 for any URL: JSON under /api/ (e.g. a malformed id), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def permission_denied(request, exception):
    """403: a signed-in person refused on a page of the site keeps the side menu of
    Reformflow's pages (templates/403.html), so the way on is one click. viewflow's
    SiteMiddleware refuses before it puts the site on the request, so it is put here."""
    match = request.resolver_match
    extra = getattr(getattr(match, "url_name", None), "extra", None) or {}
    if request.user.is_authenticated and extra.get("site") is not None:
        from .site import reform_app

        match.site, match.app, match.viewset = extra["site"], reform_app, reform_app
    return defaults.permission_denied(request, exception)


# --------------------------------------------------------------------------- reports


def _visible_report(user, report_id) -> Report:
    return selectors.report_get_visible(user, report_id)


def report_status_payload(report: Report) -> dict:
    """What the desk's polling and the API need to follow one report."""
    return {
        "id": report.pk,
        "status": report.status,
        "status_display": str(report.get_status_display()),
        "progress": report.progress,
        "download_url": reverse("workflows:report_download", args=[report.pk])
        if report.is_ready
        else None,
        "name": report.download_name,
    }


@login_required
def reports(request):
    user = request.user
    filters = forms.ReportFilterForm(request.GET or None)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    page = _page(request, selectors.report_list(user, **{k: v for k, v in criteria.items() if v}))
    can_request = access.reads_programme_reports(user)
    return render(
        request,
        "workflows/reports.html",
        {
            "page": page,
            "filters": filters,
            "request_form": forms.ReportRequestForm() if can_request else None,
            "is_coordinator": access.is_coordinator(user),
            "has_pending": any(report.is_pending for report in page.object_list),
        },
    )


@login_required
@require_POST
@auditors_may_post
def report_request(request):
    if not access.reads_programme_reports(request.user):
        raise PermissionDenied
    form = forms.ReportRequestForm(request.POST)
    if form.is_valid():
        report = services.report_request_programme(
            by=request.user, aspect=form.cleaned_data["aspect"]
        )
        messages.success(
            request,
            _("Programme report version %(version)d is queued; this page shows its progress.")
            % {"version": report.version},
        )
    else:
        messages.error(request, _("Choose the whole programme or one aspect."))
    return redirect("workflows:reports")


@login_required
@require_POST
def report_regenerate(request, report_id):
    report = _visible_report(request.user, report_id)
    if report.case is None:
        raise Http404
    try:
        new = services.report_request_completion(case=report.case, by=request.user)
    except ValidationError as exc:
        messages.error(request, _message(exc))
    else:
        messages.success(
            request,
            _("Completion report version %(version)d is queued.") % {"version": new.version},
        )
    return redirect("workflows:reports")


@login_required
def report_status(request, report_id):
    return JsonResponse(report_status_payload(_visible_report(request.user, report_id)))


def _user_or_api_token(request):
    """The session's user, else the user of a valid `Authorization: Token ...` header."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


@require_GET
def report_download(request, report_id):
    # The API's download_url points here too, so API clients may use their token.
    user = _user_or_api_token(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    report = _visible_report(user, report_id)
    try:
        handle = services.report_open_for_download(report=report, user=user)
    except ValidationError as exc:
        raise Http404(_message(exc)) from exc
    except services.FileGone:
        return file_gone(request, report.download_name)
    return FileResponse(
        handle, as_attachment=True, filename=report.download_name, content_type="application/pdf"
    )


def set_language(request):
    """Django's language switch (cookie and redirect); a POST's choice is also kept: on the
    profile of a signed-in person, in the session until login (workflows/languages.py)."""
    response = i18n.set_language(request)
    if request.method == "POST":
        languages.language_choice_keep(request=request, language=request.POST.get("language", ""))
    return response

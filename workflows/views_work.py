"""My work: the one to-do list per person (workflows/worklist.py reads it)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import worklist

# The page shows the most urgent items; each source reads at most this many rows.
WORK_SHOWN = 50


@login_required
def my_work(request):
    entries = worklist.work_list(request.user, limit=WORK_SHOWN)
    context = {
        "entries": entries,
        "count": worklist.work_count(request.user),
        "shown": WORK_SHOWN,
    }
    return render(request, "workflows/my_work.html", context)

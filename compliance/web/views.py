from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from compliance.models import Release


@login_required
def dashboard(request):
    releases = Release.objects.order_by("slug")
    return render(request, "compliance/dashboard.html", {"releases": releases})

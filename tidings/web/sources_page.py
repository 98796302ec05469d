"""Page: vendor sources (admin only) — list, add (a generated secret is shown this once), remove.

The same use cases as ``tidings sources`` and ``/api/sources`` (``application/sources/sources.py``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tidings.application.access.users import Session
from tidings.application.ports.sources import SourceExists
from tidings.application.sources import sources as use
from tidings.domain.vendors.model import VENDORS
from tidings.web.core import PageNotFound, WebRoute, render
from tidings.web.security import Admin, FormFields, container

router = APIRouter(route_class=WebRoute)


def _page(request: Request, *, notice: str = "", error: str = "", created: dict[str, object] | None = None,
          form: dict[str, str] | None = None, status: int = 200) -> Response:
    c = container(request)
    rows = [use.describe(s) for s in use.list_sources(c.uow(read_only=True))]
    return render(
        request,
        "sources.html",
        {"rows": rows, "vendors": VENDORS, "notice": notice, "error": error, "created": created,
         "form": form or {}, "public_url": c.settings.public_url.rstrip("/")},
        status=status,
        page="sources",
    )


@router.get("/sources")
def sources_page(request: Request, session: Session = Admin) -> Response:
    return _page(request, notice=request.query_params.get("notice", ""))


@router.post("/sources")
def add_source(request: Request, session: Session = Admin, form: FormData = FormFields) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in ("vendor", "name", "secret", "abandon_after_minutes")}
    c = container(request)
    try:
        minutes = int(values["abandon_after_minutes"] or use.DEFAULT_ABANDON_AFTER // 60)
    except ValueError:
        return _page(request, error="The quiet period is a whole number of minutes.", form=values, status=422)
    try:
        new = use.add_source(c.uow(), values["vendor"], values["name"] or None, values["secret"] or None,
                             c.clock.now(), minutes * 60)
    except use.SourceInputError as exc:
        return _page(request, error=exc.message, form=values, status=422)
    except SourceExists as exc:
        return _page(request, error=str(exc), form=values, status=409)
    created = use.describe(new.record) | {"generated_secret": new.generated_secret}
    # rendered, not redirected: a generated secret must not travel in a URL, and is shown this once
    return _page(request, created=created)


@router.post("/sources/{source_id}/remove")
def remove_source(source_id: int, request: Request, session: Session = Admin) -> Response:
    if not use.remove_source(container(request).uow(), source_id):
        raise PageNotFound(f"Source {source_id}")
    return RedirectResponse("/sources?" + urlencode({"notice": f"Source {source_id} removed."}), status_code=303)

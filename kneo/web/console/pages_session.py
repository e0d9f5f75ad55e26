"""Sign-in and sign-out pages."""

from __future__ import annotations

from flask import Response, redirect, render_template, request, url_for

from kneo.web.console.blueprint import bp
from kneo.web.console.session import check_csrf, console_principal, safe_next, sign_in, sign_out
from kneo.web.request_scope import settings


@bp.get("/")
def home() -> Response:
    return redirect(url_for("console.runs"))  # type: ignore[return-value]


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_page() -> Response | tuple[str, int] | str:
    target = safe_next(request.values.get("next"))
    if not settings().auth_enabled or (request.method == "GET" and console_principal() is not None):
        return redirect(target)  # type: ignore[return-value]
    if request.method == "GET":
        return render_template("console/sign_in.html", next=target, error=None)
    check_csrf()
    if sign_in(request.form.get("api_key", "")) is None:
        return render_template("console/sign_in.html", next=target, error="That key is not valid."), 401
    return redirect(target)  # type: ignore[return-value]


@bp.post("/sign-out", endpoint="sign_out")
def sign_out_page() -> Response:
    check_csrf()
    sign_out()
    return redirect(url_for("console.sign_in"))  # type: ignore[return-value]

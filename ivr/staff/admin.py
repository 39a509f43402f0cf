"""Admin pages: staff accounts (create, reset a password, disable or enable, change role)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ivr.staff import users
from ivr.staff.auth import current_user, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _redis():
    return current_app.extensions["ivr.store"].redis


@bp.get("/users", endpoint="users")
@role_required("admin")
def users_page():
    return _page()


def _page(**extra):
    return render_template(
        "staff/admin_users.html",
        users=users.list_users(_redis()),
        roles=users.ROLES,
        min_length=users.MIN_PASSWORD_LENGTH,
        **extra,
    )


@bp.post("/users")
@role_required("admin")
def create():
    form = request.form
    try:
        name = users.create_user(
            _redis(), form.get("username", ""), form.get("role", ""), form.get("password", "")
        )
    except users.UserError as exc:
        flash(str(exc), "error")
        return _page(form=form), 400
    flash(f"Account {name!r} created. Give them the password in person or by phone.", "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>")
@role_required("admin")
def change(username: str):
    form, client = request.form, _redis()
    action = form.get("action", "")
    try:
        if action == "password":
            users.set_password(client, username, form.get("password", ""))
            flash(f"Password for {username!r} changed; their sessions have ended.", "info")
        elif action in ("disable", "enable"):
            if username == current_user()["username"]:
                raise users.UserError("You cannot disable your own account.")
            users.set_disabled(client, username, action == "disable")
            flash(f"Account {username!r} {action}d.", "info")
        elif action == "role":
            users.set_role(client, username, form.get("role", ""))
            flash(f"{username!r} is now {form.get('role')}.", "info")
            if username == current_user()["username"] and form.get("role") != "admin":
                return redirect("/")  # no longer allowed on this page
        else:
            raise users.UserError("Choose what to change.")
    except users.UserError as exc:
        flash(str(exc), "error")
        return _page(), 400
    return redirect(url_for("admin.users"))

//! Operators: who may sign in to the dashboard (every operator is an instance-wide admin).
//! List, add with an email and initial password, remove (never the last one).

use super::orgs::field_error;
use super::view::{Form, Layout, when, when_opt};
use super::{Ctx, done, render};
use crate::error::Result;
use crate::http::Response;
use crate::services::operators::{self, Operator};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/operators.html")]
struct OperatorsPage {
    layout: Layout,
    operators: Vec<Operator>,
    me: String,
    form: Form,
}

impl OperatorsPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
    fn when_opt(&self, at: &Option<String>) -> String {
        when_opt(at)
    }
}

pub fn list(ctx: &Ctx, form: Form) -> Result<Response> {
    let operators = ctx.state.db.read(operators::list)?;
    let status = if form.has_errors() { 400 } else { 200 };
    render(
        status,
        &OperatorsPage {
            layout: ctx.layout("operators", "Operators"),
            operators,
            me: ctx.session.operator_id.clone(),
            form,
        },
    )
}

pub fn add(ctx: &Ctx) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    let password = form.value("password").to_string();
    form.forget("password");
    let email = form.trimmed("email");
    if let Err(e) = operators::check_email(&email) {
        field_error(&mut form, "email", e)?;
    }
    if let Err(e) = operators::check_password(&password) {
        field_error(&mut form, "password", e)?;
    }
    if form.has_errors() {
        return list(ctx, form);
    }
    match operators::create(&ctx.state.db, ctx.actor(), &email, &password, ctx.now) {
        Ok(_) => done("/dashboard/operators", "operator-added"),
        Err(e) => {
            field_error(&mut form, "email", e)?;
            list(ctx, form)
        }
    }
}

pub fn remove(ctx: &Ctx, id: &str) -> Result<Response> {
    operators::remove(&ctx.state.db, ctx.actor(), id, ctx.now)?;
    done("/dashboard/operators", "operator-removed")
}

//! The buyer's order page: what a guest's tracking link opens in a browser
//! (`{base}/orders/{token}` on the storefront, by Host or under `/t/{slug}`), working without
//! JavaScript like the rest of the storefront.
//!
//! It shows what the API's tracking view shows (`GET /api/v1/public/orders/{token}`): the
//! order's state under the title the tenant's workflow gives it, the vehicle, the amounts, the
//! payments and the history, with personal data masked (the link may be shared by mistake).
//! Two forms act on it:
//! - `POST {base}/orders/{token}/pay` starts paying what is due through the same code as the
//!   API, under an idempotency key the page rendered into the form (a double submit, or a
//!   reload of the answer, has one effect); the answer sends the buyer back to the page, which
//!   then links to the provider's payment page. The provider returns the buyer to this page
//!   with `?reference=<payment id>&status=…`. Its signed callback may arrive after the buyer
//!   does, so while that payment is still waiting the page says so and looks again by itself
//!   (a `Refresh` header, every [`CHECK_EVERY_S`] seconds, at most [`CHECKS`] times) instead
//!   of asking for the deposit again. The query's `status` is the provider's unsigned word: it
//!   only chooses a message, never the payment's state.
//! - `POST {base}/orders/{token}/commands` fires a transition the tenant's workflow grants the
//!   buyer (`cancel` in the examples), with the instance version the page was rendered at, so
//!   a form from a page that is out of date is refused instead of acting on a changed order.
//!
//! The page carries a secret in its address: it is sent with `Referrer-Policy: no-referrer`
//! (the link to the provider must not pass it on), `Cache-Control: no-store` and
//! `X-Robots-Tag: noindex`.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use forecourt_page_builder::format::money;
use forecourt_page_builder::sandbox::escape;
use forecourt_page_builder::site::pick;
use forecourt_workflow_engine as engine;

use super::routes::{buyer_actor, order_id_by_token, tracked, TrackedOrder};
use crate::http::error::{ApiError, ApiResult};
use crate::idempotency::IdempotencyKey;
use crate::pages::storefront::{html_response, message_page, page_locale, query_map};
use crate::payments::routes::{start_payment, PayRequest};
use crate::state::AppState;
use crate::tenancy::Snapshot;

/// The order page of `token` as a full address (what the buyer is given and where the
/// payment provider sends them back).
pub fn tracking_url(state: &AppState, slug: &str, token: &str) -> String {
    format!(
        "{}/t/{slug}/orders/{token}",
        state.settings.public_url.trim_end_matches('/')
    )
}

fn zh(locale: &str) -> bool {
    locale.starts_with("zh")
}

fn t<'a>(locale: &str, en: &'a str, zh_cn: &'a str) -> &'a str {
    if zh(locale) {
        zh_cn
    } else {
        en
    }
}

/// Handles `{base}/orders/{rest}`: the page (`GET`), and its two forms (`POST …/pay`,
/// `POST …/commands`).
pub async fn serve(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    rest: &str,
    req: Request,
) -> ApiResult<Response> {
    let (token, action) = match rest.split_once('/') {
        Some((token, action)) => (token, Some(action)),
        None => (rest, None),
    };
    let method = req.method().clone();
    match (action, &method) {
        (None, &Method::GET | &Method::HEAD) => {
            let query = query_map(req.uri().query());
            let locale = page_locale(snapshot, &query, req.headers());
            page(state, snapshot, base, token, &locale, &query).await
        }
        (Some("pay"), &Method::POST) => {
            let (form, locale) = read_form(state, snapshot, req).await?;
            Ok(pay(state, snapshot, base, token, &form, &locale).await)
        }
        (Some("commands"), &Method::POST) => {
            let (form, locale) = read_form(state, snapshot, req).await?;
            Ok(command(state, snapshot, base, token, &form, &locale).await)
        }
        (None | Some("pay" | "commands"), _) => Err(ApiError::Invalid {
            code: "method_not_allowed",
            detail: "This path does not accept that method.".into(),
            errors: vec![],
        }),
        _ => {
            let locale = page_locale(snapshot, &BTreeMap::new(), req.headers());
            Ok(gone(base, &locale))
        }
    }
}

/// The form's fields (the first value of each, at most 16) and the locale it asks for.
async fn read_form(
    state: &AppState,
    snapshot: &Snapshot,
    req: Request,
) -> ApiResult<(BTreeMap<String, String>, String)> {
    let headers = req.headers().clone();
    let form = crate::pages::forms::fields(state, req, 16).await?;
    let locale = page_locale(snapshot, &form, &headers);
    Ok((form, locale))
}

/// The headers of every answer about one order: its address holds a secret.
fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

fn page_url(base: &str, token: &str) -> String {
    format!("{base}/orders/{token}")
}

/// 303 to the order page (after a form did its work).
fn back_to_page(base: &str, token: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&page_url(base, token)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    private(response)
}

/// An unknown or malformed token: the same page whatever the reason, so a guess learns nothing.
fn gone(base: &str, locale: &str) -> Response {
    private(message_page(
        StatusCode::NOT_FOUND,
        locale,
        t(locale, "Order not found", "未找到订单"),
        &[t(
            locale,
            "Check the link: it is the one you were given when you placed the order.",
            "请检查链接：它是下单时提供给您的链接。",
        )
        .to_string()],
        &format!("{base}/"),
    ))
}

/// A form's refusal as a page with a way back to the order.
fn refused(status: StatusCode, base: &str, token: &str, locale: &str, detail: &str) -> Response {
    private(message_page(
        status,
        locale,
        t(locale, "That did not work", "操作未完成"),
        &[
            detail.to_string(),
            t(
                locale,
                "Nothing was changed. Go back to your order to see where it stands.",
                "订单未作任何更改。请返回订单查看当前状态。",
            )
            .to_string(),
        ],
        &page_url(base, token),
    ))
}

/// The order's id, or `None` for a token that opens no order of this tenant.
async fn order_id(state: &AppState, snapshot: &Snapshot, token: &str) -> ApiResult<Option<String>> {
    let tenant_id = &snapshot.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let id = match order_id_by_token(&mut tx, tenant_id, token).await {
        Ok(id) => Some(id),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    tx.commit().await?;
    Ok(id)
}

/// How often the page looks again while a payment the buyer came back from is unconfirmed.
pub const CHECK_EVERY_S: u32 = 3;
/// How many times it looks before it stops and says the provider is late.
pub const CHECKS: u32 = 10;

/// What the page tells a buyer the payment provider sent back (`?reference=<payment id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returned {
    /// The payment still waits for the provider's signed callback; the page looks again
    /// (`check` is the look this is, from 0).
    Confirming { check: u32 },
    /// Still waiting after [`CHECKS`] looks: the page stops looking by itself.
    Late,
    /// The provider confirmed the payment.
    Received,
    /// The provider said it did not go through (or confirmed that it failed).
    NotCompleted,
}

impl Returned {
    fn name(self) -> &'static str {
        match self {
            Returned::Confirming { .. } => "confirming",
            Returned::Late => "late",
            Returned::Received => "received",
            Returned::NotCompleted => "not_completed",
        }
    }

    fn text(self, locale: &str) -> &'static str {
        match self {
            Returned::Confirming { .. } => t(
                locale,
                "Thank you. We are waiting for the payment provider to confirm your payment; this page updates by itself.",
                "感谢付款。正在等待支付机构确认，本页面会自动刷新。",
            ),
            Returned::Late => t(
                locale,
                "The payment provider has not confirmed this payment yet. If you paid, it will show here as soon as they do; reload this page later.",
                "支付机构尚未确认此笔付款。如您已付款，确认后会显示在此处，请稍后刷新本页面。",
            ),
            Returned::Received => t(locale, "Payment received. Thank you.", "已收到付款，谢谢。"),
            Returned::NotCompleted => t(
                locale,
                "The payment was not completed. You can pay again below.",
                "付款未完成，您可以在下方重新付款。",
            ),
        }
    }
}

/// What to tell a buyer back from the provider, from the query and the order's payments. A
/// reference that is not one of this order's payments says nothing.
fn returned(
    query: &BTreeMap<String, String>,
    payments: &[crate::payments::PaymentView],
) -> Option<(Returned, String)> {
    let reference = query.get("reference")?;
    let payment = payments.iter().find(|p| &p.id == reference)?;
    let said = query.get("status").map(String::as_str);
    let check = query
        .get("check")
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(0);
    let what = match payment.status.as_str() {
        "succeeded" => Returned::Received,
        "failed" => Returned::NotCompleted,
        _ if said == Some("failed") => Returned::NotCompleted,
        _ if check >= CHECKS => Returned::Late,
        _ => Returned::Confirming { check },
    };
    Some((what, payment.id.clone()))
}

async fn page(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    token: &str,
    locale: &str,
    query: &BTreeMap<String, String>,
) -> ApiResult<Response> {
    let Some(id) = order_id(state, snapshot, token).await? else {
        return Ok(gone(base, locale));
    };
    let (view, wf) = tracked(state, snapshot, &id).await?;
    let payments_on = state.payments.is_some();
    let back = returned(query, &view.payments);
    let html = render(
        state,
        snapshot,
        base,
        token,
        locale,
        &view,
        &wf,
        payments_on,
        back.as_ref()
            .map(|(what, reference)| (*what, reference.as_str())),
    );
    let mut response = html_response(StatusCode::OK, html);
    if let Some((Returned::Confirming { check }, reference)) = back {
        // The payment id is ours (a UUID) and the locale one of the tenant's: nothing of the
        // visitor's query is echoed into the header.
        let again = format!(
            "{CHECK_EVERY_S}; url={}?reference={reference}&check={}&locale={locale}",
            page_url(base, token),
            check + 1,
        );
        if let Ok(v) = HeaderValue::from_str(&again) {
            response.headers_mut().insert("refresh", v);
        }
    }
    Ok(private(response))
}

/// A workflow title in `locale`, else the tenant's default, else the name.
fn title(
    text: Option<&engine::model::LocalizedText>,
    name: &str,
    locale: &str,
    fallback: &str,
) -> String {
    match text.map(|t| pick(t, locale, fallback)) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => name.to_string(),
    }
}

/// An RFC 3339 time in the tenant's time zone: `2026-12-07 18:30 CST`.
fn when(snapshot: &Snapshot, rfc3339: &str) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(ts) => ts
            .to_zoned(crate::test_drives::time_zone(snapshot))
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    token: &str,
    locale: &str,
    view: &TrackedOrder,
    wf: &engine::Workflow,
    payments_on: bool,
    back: Option<(Returned, &str)>,
) -> String {
    let o = &view.order;
    let site = state.pages.site(snapshot);
    let fallback = site.tenant.default_locale.as_str();
    let state_title = |name: &str| {
        title(
            wf.state(name).and_then(|s| s.title.as_ref()),
            name,
            locale,
            fallback,
        )
    };
    let cash = |minor: i64| escape(&money(minor, &o.currency, locale));
    let (model, trim) = match site.models.iter().find(|m| m.code == o.model) {
        Some(m) => (
            pick(&m.name, locale, fallback).to_string(),
            m.trims
                .iter()
                .find(|t| t.code == o.trim)
                .map(|t| pick(&t.name, locale, fallback).to_string())
                .unwrap_or_else(|| o.trim.clone()),
        ),
        None => (o.model.clone(), o.trim.clone()),
    };
    let heading = format!("{} {}", t(locale, "Order", "订单"), o.number);
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>{}</h1><p class=\"order-state\" data-state=\"{}\">{} <strong>{}</strong></p>",
        escape(&heading),
        escape(&o.state),
        t(locale, "Status:", "状态："),
        escape(&state_title(&o.state)),
    ));
    if let Some((back, _)) = back {
        body.push_str(&format!(
            "<p class=\"order-notice\" role=\"status\" data-notice=\"{}\">{}</p>",
            back.name(),
            escape(back.text(locale)),
        ));
    }
    // While the provider's word on a payment the buyer just made is awaited, the page does not
    // ask for the money again.
    let confirming = matches!(back, Some((Returned::Confirming { .. }, _)));
    // A payment the provider said did not go through is not offered again, even before its
    // callback marks it failed.
    let declined = match back {
        Some((Returned::NotCompleted, reference)) => Some(reference),
        _ => None,
    };

    // What is due, and how to pay it.
    if view.amount_due > 0 && !confirming {
        let kind = if o.deposit_due.is_some() && o.paid < o.deposit {
            "deposit"
        } else {
            "balance"
        };
        let what = if kind == "deposit" {
            t(locale, "Deposit due", "应付定金")
        } else {
            t(locale, "Balance due", "应付尾款")
        };
        body.push_str(&format!(
            "<section class=\"order-due\"><h2>{what}: {}</h2>",
            cash(view.amount_due)
        ));
        if let (Some(due), "deposit") = (&o.deposit_due, kind) {
            body.push_str(&format!(
                "<p>{} {}</p>",
                t(
                    locale,
                    "The vehicle is reserved for you until",
                    "车辆为您保留至"
                ),
                escape(&when(snapshot, due))
            ));
        }
        let waiting = view.payments.iter().rev().find(|p| {
            p.kind == kind
                && p.status == "created"
                && p.amount == view.amount_due
                && declined != Some(p.id.as_str())
        });
        if let Some(url) = waiting.and_then(|p| p.redirect_url.as_deref()) {
            body.push_str(&format!(
                "<p><a class=\"button button-primary\" id=\"continue-payment\" href=\"{}\" rel=\"noreferrer\">{}</a></p>",
                escape(url),
                t(locale, "Continue to the payment page", "前往支付页面"),
            ));
        }
        if payments_on {
            let label = match (waiting.is_some(), kind) {
                (true, _) => t(locale, "Start a new payment", "重新发起支付"),
                (false, "deposit") => t(locale, "Pay the deposit", "支付定金"),
                (false, _) => t(locale, "Pay the balance", "支付尾款"),
            };
            body.push_str(&format!(
                "<form method=\"post\" action=\"{action}\" class=\"order-pay\">\
                 <input type=\"hidden\" name=\"key\" value=\"{key}\">\
                 <input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
                 <input type=\"hidden\" name=\"amount\" value=\"{amount}\">\
                 <input type=\"hidden\" name=\"currency\" value=\"{currency}\">\
                 <input type=\"hidden\" name=\"locale\" value=\"{loc}\">\
                 <button type=\"submit\" class=\"button{primary}\">{label} {sum}</button></form>",
                primary = if waiting.is_some() {
                    ""
                } else {
                    " button-primary"
                },
                action = escape(&format!("{}/pay", page_url(base, token))),
                key = uuid::Uuid::new_v4(),
                amount = view.amount_due,
                currency = escape(&o.currency),
                loc = escape(locale),
                sum = cash(view.amount_due),
            ));
        } else {
            body.push_str(&format!(
                "<p>{}</p>",
                t(
                    locale,
                    "Online payment is not available here; the store will tell you how to pay.",
                    "此处暂不支持在线支付，门店会告知您付款方式。"
                )
            ));
        }
        body.push_str("</section>");
    }

    // The facts of the order.
    body.push_str("<dl class=\"order-facts\">");
    let mut fact = |label: &str, value: String| {
        body.push_str(&format!("<dt>{}</dt><dd>{value}</dd>", escape(label)));
    };
    fact(
        t(locale, "Vehicle", "车辆"),
        escape(&format!("{model} · {trim}")),
    );
    if let Some(vin) = &o.vin {
        fact(t(locale, "VIN", "车架号"), escape(vin));
    }
    if let Some(store) = site.stores.iter().find(|s| s.code == o.store) {
        fact(
            t(locale, "Store", "门店"),
            escape(pick(&store.name, locale, fallback)),
        );
    }
    fact(t(locale, "Price", "车价"), cash(o.price));
    fact(t(locale, "Deposit", "定金"), cash(o.deposit));
    fact(t(locale, "Paid", "已付"), cash(o.paid));
    if o.refunded > 0 {
        fact(t(locale, "Refunded", "已退款"), cash(o.refunded));
    }
    fact(
        t(locale, "Buyer", "买家"),
        escape(&format!("{} {}", o.buyer.name, o.buyer.mobile)),
    );
    fact(
        t(locale, "Placed", "下单时间"),
        escape(&when(snapshot, &o.created_at)),
    );
    body.push_str("</dl>");

    // What the buyer may do (as the tenant's workflow grants the buyer).
    for action in &view.actions {
        let label = title(
            wf.transition(action).and_then(|tr| tr.title.as_ref()),
            action,
            locale,
            fallback,
        );
        body.push_str(&format!(
            "<form method=\"post\" action=\"{target}\" class=\"order-action\">\
             <input type=\"hidden\" name=\"transition\" value=\"{name}\">\
             <input type=\"hidden\" name=\"version\" value=\"{version}\">\
             <input type=\"hidden\" name=\"locale\" value=\"{loc}\">\
             <button type=\"submit\" class=\"button\" data-transition=\"{name}\">{label}</button></form>",
            target = escape(&format!("{}/commands", page_url(base, token))),
            name = escape(action),
            version = view.version,
            loc = escape(locale),
            label = escape(&label),
        ));
    }

    if !view.payments.is_empty() {
        body.push_str(&format!(
            "<h2>{}</h2><table class=\"order-payments\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            t(locale, "Payments", "付款记录"),
            t(locale, "Date", "日期"),
            t(locale, "For", "用途"),
            t(locale, "Amount", "金额"),
            t(locale, "Status", "状态"),
        ));
        for p in &view.payments {
            let kind = if p.kind == "deposit" {
                t(locale, "Deposit", "定金")
            } else {
                t(locale, "Balance", "尾款")
            };
            let status = match p.status.as_str() {
                "created" => t(locale, "Waiting for payment", "待支付"),
                "succeeded" => t(locale, "Paid", "已支付"),
                "failed" => t(locale, "Failed", "失败"),
                other => other,
            };
            let refunded = if p.refunded > 0 {
                format!(
                    " ({} {})",
                    t(locale, "refunded", "已退"),
                    escape(&money(p.refunded, &p.currency, locale))
                )
            } else {
                String::new()
            };
            body.push_str(&format!(
                "<tr data-status=\"{}\"><td>{}</td><td>{kind}</td><td>{}</td><td>{}{refunded}</td></tr>",
                escape(&p.status),
                escape(&when(snapshot, &p.created_at)),
                escape(&money(p.amount, &p.currency, locale)),
                escape(status),
            ));
        }
        body.push_str("</tbody></table>");
    }

    if !view.history.is_empty() {
        body.push_str(&format!(
            "<h2>{}</h2><ol class=\"order-history\">",
            t(locale, "History", "订单进度")
        ));
        for step in &view.history {
            let by = match step.by.as_str() {
                "buyer" => t(locale, "you", "您"),
                "store" => t(locale, "the store", "门店"),
                _ => t(locale, "automatic", "系统"),
            };
            body.push_str(&format!(
                "<li data-state=\"{}\"><time>{}</time> {} <span class=\"by\">({by})</span></li>",
                escape(&step.to),
                escape(&when(snapshot, &step.at)),
                escape(&state_title(&step.to)),
            ));
        }
        body.push_str("</ol>");
    }

    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/assets/storefront.css\"></head>\
         <body><main id=\"main\" class=\"order-page\">{body}\
         <p><a href=\"{home}\">{home_label}</a></p></main></body></html>",
        lang = escape(locale),
        title = escape(&heading),
        home = escape(&format!("{base}/")),
        home_label = t(locale, "Back to the home page", "返回首页"),
    )
}

/// `POST {base}/orders/{token}/pay`: starts the payment the form was rendered for.
async fn pay(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    token: &str,
    form: &BTreeMap<String, String>,
    locale: &str,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let key = match IdempotencyKey::parse(field("key").as_bytes()) {
        Ok(key) => key,
        Err(_) => {
            return refused(
                StatusCode::BAD_REQUEST,
                base,
                token,
                locale,
                t(
                    locale,
                    "The payment form is incomplete; reload your order and try again.",
                    "支付表单不完整，请刷新订单页面后重试。",
                ),
            )
        }
    };
    let Ok(amount) = field("amount").parse::<i64>() else {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            base,
            token,
            locale,
            t(
                locale,
                "The amount in the payment form is not a number; reload your order and try again.",
                "支付金额无效，请刷新订单页面后重试。",
            ),
        );
    };
    let req = PayRequest {
        kind: field("kind").to_string(),
        amount,
        currency: field("currency").to_string(),
    };
    // The body the API would have received, so the key means the same request either way.
    let bytes = serde_json::json!({
        "kind": req.kind,
        "amount": req.amount,
        "currency": req.currency,
    })
    .to_string();
    let answer = start_payment(state, snapshot, token, &key, bytes.as_bytes(), &req).await;
    match answer {
        Ok(response) if response.status().is_success() => back_to_page(base, token),
        Ok(response) => {
            let status = response.status();
            let detail = problem_detail(response).await;
            refused(status, base, token, locale, &detail)
        }
        Err(ApiError::NotFound(_)) => gone(base, locale),
        Err(e) => refused(e.status(), base, token, locale, &e.detail()),
    }
}

/// The `detail` of a problem answer (a refusal replayed from its idempotency key).
async fn problem_detail(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
        .unwrap_or_else(|| "The request was refused.".into())
}

/// `POST {base}/orders/{token}/commands`: the buyer fires a transition from the page.
async fn command(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    token: &str,
    form: &BTreeMap<String, String>,
    locale: &str,
) -> Response {
    let transition = form.get("transition").cloned().unwrap_or_default();
    let Some(version) = form.get("version").and_then(|v| v.parse::<i64>().ok()) else {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            base,
            token,
            locale,
            t(
                locale,
                "The form is incomplete; reload your order and try again.",
                "表单不完整，请刷新订单页面后重试。",
            ),
        );
    };
    let outcome = async {
        let Some(id) = order_id(state, snapshot, token).await? else {
            return Ok(None);
        };
        let tenant_id = &snapshot.tenant.id;
        let mut tx = state.db.tenant_tx(tenant_id).await?;
        let stored =
            crate::workflows::instance_for_subject(&mut tx, tenant_id, super::SUBJECT, &id).await?;
        tx.commit().await?;
        let command = engine::Command::Fire {
            transition,
            input: serde_json::Value::Object(Default::default()),
        };
        crate::workflows::command(
            state,
            snapshot,
            &stored.id,
            Some(version),
            &command,
            &buyer_actor(&id),
        )
        .await?;
        Ok::<_, ApiError>(Some(()))
    }
    .await;
    match outcome {
        Ok(Some(())) => back_to_page(base, token),
        Ok(None) => gone(base, locale),
        Err(e) => refused(e.status(), base, token, locale, &e.detail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_fall_back_to_the_default_locale_then_the_name() {
        let mut text = engine::model::LocalizedText::new();
        text.insert("en".into(), "Confirmed".into());
        text.insert("zh-CN".into(), "已确认".into());
        assert_eq!(title(Some(&text), "confirmed", "zh-CN", "en"), "已确认");
        assert_eq!(title(Some(&text), "confirmed", "fr", "en"), "Confirmed");
        assert_eq!(title(None, "confirmed", "en", "en"), "confirmed");
        assert_eq!(
            title(
                Some(&engine::model::LocalizedText::new()),
                "confirmed",
                "en",
                "en"
            ),
            "confirmed"
        );
    }
}

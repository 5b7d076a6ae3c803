//! Storefront forms that work without JavaScript: the test-drive booking form and the lead
//! form post `application/x-www-form-urlencoded` to `{base}/forms/…`; the answer is an HTML page
//! saying what happened (or what to correct).
//!
//! Contact details are sealed before they are stored (`crate::pii`); a booking made while signed
//! in as a buyer (the `fc_buyer` cookie) joins that buyer's list.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{body_bytes, media_type};
use crate::outbox::{self, Kind, Message};
use crate::state::AppState;
use crate::store::now_ms;
use crate::tenancy::Snapshot;
use crate::test_drives::routes::{BookingRequest, Contact};

fn zh(locale: &str) -> bool {
    locale.starts_with("zh")
}

/// Handles `POST {base}/forms/test-drive` and `POST {base}/forms/lead`.
pub async fn submit(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    path: &str,
    req: Request,
) -> ApiResult<Response> {
    let which = match path {
        "/forms/test-drive" => Form::TestDrive,
        "/forms/lead" => Form::Lead,
        _ => {
            return Err(ApiError::Invalid {
                code: "method_not_allowed",
                detail: "This path does not accept that method.".into(),
                errors: vec![],
            })
        }
    };
    let addr = crate::http::limits::client_addr(
        &state.settings.trusted_proxies,
        state.settings.forwarded_header,
        req.headers(),
        req.extensions(),
    );
    let limited = state.limits.take(
        crate::http::limits::Limited::Form,
        &snapshot.tenant.id,
        &addr,
        now_ms(),
    );
    if let Err(ApiError::TooManyRequests { retry_after_secs }) = limited {
        let locale = snapshot
            .doc()
            .and_then(|d| d.tenant.locales.first().cloned())
            .unwrap_or_else(|| "en".into());
        let mut page = super::storefront::message_page(
            StatusCode::TOO_MANY_REQUESTS,
            &locale,
            if zh(&locale) {
                "提交过于频繁"
            } else {
                "Too many forms sent"
            },
            &[if zh(&locale) {
                "此网络提交的表单过多，请稍后再试。".to_string()
            } else {
                "Too many forms were sent from your network; please try again later.".to_string()
            }],
            &format!("{base}/"),
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string()) {
            page.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return Ok(page);
    }
    limited?;
    let buyer = crate::buyers::optional_session(state, &snapshot.tenant.id, req.headers()).await?;
    let form = fields(state, req, 32).await?;
    let locale = form
        .get("locale")
        .filter(|l| {
            snapshot
                .doc()
                .is_some_and(|d| d.tenant.locales.contains(*l))
        })
        .cloned()
        .unwrap_or_else(|| {
            snapshot
                .doc()
                .and_then(|d| d.tenant.locales.first().cloned())
                .unwrap_or_else(|| "en".into())
        });
    let outcome = match which {
        Form::TestDrive => test_drive(state, snapshot, base, &form, &locale, buyer.as_ref()).await,
        Form::Lead => lead(state, snapshot, &form, &locale).await,
    };
    Ok(match outcome {
        Ok((title, lines)) => super::storefront::message_page(
            StatusCode::CREATED,
            &locale,
            &title,
            &lines,
            &format!("{base}/"),
        ),
        Err(ApiError::Invalid { detail, errors, .. }) => {
            let mut lines = vec![detail];
            lines.extend(errors.into_iter().map(|e| e.message));
            let title = if zh(&locale) {
                "请检查填写内容"
            } else {
                "Please check the form"
            };
            super::storefront::message_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &locale,
                title,
                &lines,
                &format!("{base}/"),
            )
        }
        Err(ApiError::Conflict { detail, .. }) => {
            let title = if zh(&locale) {
                "该时段已约满"
            } else {
                "That slot is taken"
            };
            super::storefront::message_page(
                StatusCode::CONFLICT,
                &locale,
                title,
                &[detail],
                &format!("{base}/"),
            )
        }
        Err(e) => return Err(e),
    })
}

/// The fields of a posted storefront form: the first value of each of at most `max` fields.
/// Anything but `application/x-www-form-urlencoded` is refused.
pub(crate) async fn fields(
    state: &AppState,
    req: Request,
    max: usize,
) -> ApiResult<BTreeMap<String, String>> {
    if media_type(req.headers()) != "application/x-www-form-urlencoded" {
        return Err(ApiError::invalid(
            "unsupported_media_type",
            "Send the form as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = body_bytes(req, state).await?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| ApiError::invalid("malformed_form", "The form body could not be read."))?;
    let mut form = BTreeMap::new();
    for (k, v) in pairs.into_iter().take(max) {
        form.entry(k).or_insert(v);
    }
    Ok(form)
}

enum Form {
    TestDrive,
    Lead,
}

fn field<'a>(form: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    form.get(name).map(|s| s.trim()).unwrap_or("")
}

fn missing(pointer: &str, message: &str) -> ApiError {
    ApiError::field("invalid_form", pointer, message.to_string())
}

/// Books from the form's store, model, local date and time.
async fn test_drive(
    state: &AppState,
    snapshot: &Snapshot,
    base: &str,
    form: &BTreeMap<String, String>,
    locale: &str,
    buyer: Option<&crate::buyers::BuyerSession>,
) -> ApiResult<(String, Vec<String>)> {
    if form.get("consent").is_none() {
        return Err(missing(
            "/consent",
            if zh(locale) {
                "请同意门店就本次预约与您联系"
            } else {
                "Please agree that the store may contact you about this booking"
            },
        ));
    }
    let (date, time) = (field(form, "date"), field(form, "time"));
    let local: jiff::civil::DateTime = format!("{date}T{time}").parse().map_err(|_| {
        missing(
            "/date",
            if zh(locale) {
                "请选择日期和时间"
            } else {
                "Choose a date and a time"
            },
        )
    })?;
    let tz = crate::test_drives::time_zone(snapshot);
    let start = local
        .to_zoned(tz)
        .map_err(|_| missing("/time", "That time does not exist in the store's time zone"))?
        .timestamp()
        .to_string();
    let request = BookingRequest {
        store: field(form, "store").to_string(),
        model: field(form, "model").to_string(),
        slot_start: start,
        contact: Contact {
            name: field(form, "name").to_string(),
            mobile: field(form, "mobile").to_string(),
        },
        notes: None,
        locale: Some(locale.to_string()),
    };
    let booking =
        crate::test_drives::routes::create_booking(state, snapshot, &request, buyer).await?;
    let status = format!("{base}/api/v1/public/test-drives/{}", booking.code);
    Ok(if zh(locale) {
        (
            "预约已提交".to_string(),
            vec![
                format!("门店将尽快确认您的试驾预约（{}）。", booking.slot_start),
                format!(
                    "预约编号：{}。请保存此链接以查看进度：{status}",
                    booking.code
                ),
            ],
        )
    } else {
        (
            "Booking received".to_string(),
            vec![
                format!(
                    "The store will confirm your test drive ({}) shortly.",
                    booking.slot_start
                ),
                format!(
                    "Your booking code is {}. Keep this link to follow it: {status}",
                    booking.code
                ),
            ],
        )
    })
}

/// Records an enquiry and tells integrators (`lead.received`, id only).
async fn lead(
    state: &AppState,
    snapshot: &Snapshot,
    form: &BTreeMap<String, String>,
    locale: &str,
) -> ApiResult<(String, Vec<String>)> {
    let name = field(form, "name");
    let mobile = field(form, "mobile");
    let message = field(form, "message");
    let block = field(form, "block");
    let model = field(form, "model");
    let mut errors = Vec::new();
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        errors.push(crate::http::error::FieldError {
            pointer: "/name".into(),
            message: if zh(locale) {
                "请填写 1 至 50 个字的姓名"
            } else {
                "Give a name of 1 to 50 characters"
            }
            .into(),
        });
    }
    if !crate::test_drives::routes::valid_mobile(mobile) {
        errors.push(crate::http::error::FieldError {
            pointer: "/mobile".into(),
            message: if zh(locale) {
                "请填写有效的手机号码"
            } else {
                "Give a valid mobile number (11 digits, or +country code)"
            }
            .into(),
        });
    }
    if message.chars().count() > 1000 {
        errors.push(crate::http::error::FieldError {
            pointer: "/message".into(),
            message: if zh(locale) {
                "留言最多 1000 字"
            } else {
                "The message is limited to 1,000 characters"
            }
            .into(),
        });
    }
    if form.get("consent").is_none() {
        errors.push(crate::http::error::FieldError {
            pointer: "/consent".into(),
            message: if zh(locale) {
                "请同意我们就此与您联系"
            } else {
                "Please agree that we may contact you about this"
            }
            .into(),
        });
    }
    let model = (!model.is_empty()).then_some(model);
    if model.is_some_and(|m| snapshot.catalog.model(m).is_none()) {
        errors.push(crate::http::error::FieldError {
            pointer: "/model".into(),
            message: if zh(locale) {
                "未知车型"
            } else {
                "Unknown model"
            }
            .into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            code: "invalid_form",
            detail: if zh(locale) {
                "表单有误，未提交。"
            } else {
                "The form has problems; nothing was sent."
            }
            .into(),
            errors,
        });
    }
    let block = if block.len() <= 64 && !block.is_empty() {
        block
    } else {
        "lead_form"
    };
    let tenant_id = &snapshot.tenant.id;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    sqlx::query(
        "INSERT INTO storefront_leads (tenant_id, id, block_id, model_code, contact_name, contact_mobile, message, locale, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(block)
    .bind(model)
    .bind(state.pii.seal(tenant_id, "name", name))
    .bind(state.pii.seal(
        tenant_id,
        "mobile",
        &crate::pii::normalise_mobile(mobile),
    ))
    .bind((!message.is_empty()).then_some(message))
    .bind(locale)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    outbox::enqueue(
        &mut tx,
        tenant_id,
        &Message {
            kind: Kind::Event,
            name: "lead.received".into(),
            recipient: None,
            subject: Some(("storefront_lead".into(), id.clone())),
            payload: serde_json::json!({ "lead": id, "model": model, "block": block }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(if zh(locale) {
        (
            "已收到您的咨询".to_string(),
            vec!["我们的顾问会尽快与您联系。".to_string()],
        )
    } else {
        (
            "Thank you".to_string(),
            vec!["An adviser will contact you shortly.".to_string()],
        )
    })
}

//! Test-drive routes. Buyers (public, tenant from Host or `/t/{slug}`): slots, booking, the
//! booking page under its unguessable code, and the buyer's own commands (cancel, feedback).
//! Staff: bookings in reach (`test_drive.read`); decisions go through the workflow instance
//! commands (`POST /api/v1/workflow-instances/{id}/commands`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use forecourt_workflow_engine as engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{check_slot, hold, settings, slots, subject, time_zone, Slot, SUBJECT};
use crate::authz::Resource;
use crate::buyers::BuyerSession;
use crate::catalog::share_code;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::{ApiJson, Authz};
use crate::outbox;
use crate::pii::{mask_mobile, mask_name, normalise_mobile};
use crate::state::AppState;
use crate::store::{now_ms, rfc3339, TenantTx};
use crate::tenancy::routes::PublicTenant;
use crate::tenancy::Snapshot;
use crate::workflows::{self, Acting, HistoryEntry, PendingTimer, StartSpec, StoredInstance};

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_slots))
        .routes(routes!(book))
        .routes(routes!(get_booking))
        .routes(routes!(buyer_command))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_bookings))
        .routes(routes!(staff_booking))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// Store code.
    pub store: String,
    /// Catalog model code.
    pub model: String,
    /// Local date in the tenant's time zone (`YYYY-MM-DD`); default today.
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlotList {
    pub store: String,
    pub model: String,
    pub date: String,
    pub time_zone: String,
    pub slot_minutes: u32,
    pub slots: Vec<Slot>,
}

fn store_of<'a>(
    snapshot: &'a Snapshot,
    code: &str,
    pointer: &str,
) -> ApiResult<&'a forecourt_tenant_config::model::Store> {
    snapshot
        .doc()
        .and_then(|d| d.org.store(code))
        .ok_or_else(|| ApiError::Invalid {
            code: "unknown_store",
            detail: format!("there is no store `{code}`"),
            errors: vec![FieldError {
                pointer: pointer.into(),
                message: "not a store of this tenant; GET /api/v1/public/stores lists them".into(),
            }],
        })
}

fn check_model(snapshot: &Snapshot, store: &str, model: &str, pointer: &str) -> ApiResult<()> {
    let settings = settings(snapshot)?;
    if snapshot.catalog.model(model).is_none() {
        return Err(ApiError::Invalid {
            code: "unknown_model",
            detail: format!("there is no model `{model}`"),
            errors: vec![FieldError {
                pointer: pointer.into(),
                message: "not a model of this tenant's catalog".into(),
            }],
        });
    }
    if super::vehicles(settings, store, model).is_empty() {
        return Err(ApiError::Invalid {
            code: "no_demo_vehicle",
            detail: format!("store `{store}` has no demo vehicle of model `{model}`"),
            errors: vec![FieldError {
                pointer: pointer.into(),
                message: "this store offers no test drive of this model".into(),
            }],
        });
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/public/test-drives/slots", tag = "test-drives",
    description = "Test-drive slots of one model at one store on one local day, with how many demo vehicles are still free in each.",
    params(SlotQuery),
    responses((status = 200, body = SlotList), (status = 404, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn list_slots(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Query(q): Query<SlotQuery>,
) -> ApiResult<Json<SlotList>> {
    let s = &tenant.0;
    let settings = settings(s)?;
    let store = store_of(s, &q.store, "/store")?;
    check_model(s, &q.store, &q.model, "/model")?;
    let tz = time_zone(s);
    let now = now_ms();
    let day = match &q.date {
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .map_err(|_| ApiError::Invalid {
                code: "invalid_date",
                detail: format!("`{d}` is not a date"),
                errors: vec![FieldError {
                    pointer: "/date".into(),
                    message: "expected YYYY-MM-DD".into(),
                }],
            })?,
        None => jiff::Timestamp::from_millisecond(now)
            .map_err(ApiError::internal)?
            .to_zoned(tz.clone())
            .date(),
    };
    let mut tx = state.db.tenant_tx(&s.tenant.id).await?;
    let list = slots(&mut tx, s, store, &q.model, day, now).await?;
    tx.commit().await?;
    Ok(Json(SlotList {
        store: q.store,
        model: q.model,
        date: day.to_string(),
        time_zone: tz.iana_name().unwrap_or("UTC").to_string(),
        slot_minutes: settings.slot_minutes,
        slots: list,
    }))
}

/// The buyer's contact details.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// 1–50 characters.
    pub name: String,
    /// Mainland China mobile (`13812345678`) or E.164 (`+8613812345678`).
    pub mobile: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub store: String,
    pub model: String,
    /// A slot start from the slots list (RFC 3339).
    pub slot_start: String,
    pub contact: Contact,
    /// Up to 500 characters.
    #[serde(default)]
    pub notes: Option<String>,
    /// One of the tenant's locales (default: the tenant's default).
    #[serde(default)]
    pub locale: Option<String>,
}

/// A booking as its buyer sees it (under the unguessable code).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerBooking {
    pub code: String,
    pub store: String,
    pub model: String,
    pub slot_start: String,
    pub slot_end: String,
    /// Masked: the page is reachable by anyone holding the code.
    pub contact_name: String,
    pub contact_mobile: String,
    /// The workflow state (`requested`, `approved` …).
    pub state: String,
    pub ended: bool,
    /// The instance version to send with a command.
    pub version: i64,
    /// What the buyer may do now (`cancel`, `feedback` …).
    pub actions: Vec<String>,
    /// Status changes, without staff names.
    pub history: Vec<BuyerStep>,
    /// Messages sent to the buyer through the outbox (the local inbox).
    pub messages: Vec<BuyerMessage>,
    /// The buyer's feedback after the drive, when given.
    #[schema(value_type = Object)]
    pub feedback: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerStep {
    pub at: String,
    pub kind: String,
    pub transition: Option<String>,
    pub from: Option<String>,
    pub to: String,
    /// `buyer`, `store` or `system`.
    pub by: String,
}

impl BuyerStep {
    /// A history entry as the buyer sees it: who acted is `buyer`, `system` or the `store`
    /// (staff names stay hidden).
    pub fn from_history(h: &crate::workflows::HistoryEntry) -> BuyerStep {
        BuyerStep {
            at: rfc3339(h.at),
            kind: h.kind.clone(),
            transition: h.transition.clone(),
            from: h.from.clone(),
            to: h.to.clone(),
            by: if h.actor == "buyer" || h.actor == "system" {
                h.actor.clone()
            } else {
                "store".into()
            },
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerMessage {
    pub template: String,
    pub at: String,
    /// `pending` or `delivered`.
    pub status: String,
}

fn invalid_field(pointer: &str, message: &str) -> FieldError {
    FieldError {
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// A mainland China mobile number (`13812345678`) or an E.164 number (`+8613812345678`).
pub(crate) fn valid_mobile(m: &str) -> bool {
    let cn = m.len() == 11
        && m.starts_with('1')
        && m.as_bytes()
            .get(1)
            .is_some_and(|b| (b'3'..=b'9').contains(b))
        && m.bytes().all(|b| b.is_ascii_digit());
    let e164 = m.len() >= 8
        && m.len() <= 16
        && m.starts_with('+')
        && m.as_bytes()
            .get(1)
            .is_some_and(|b| (b'1'..=b'9').contains(b))
        && m[1..].bytes().all(|b| b.is_ascii_digit());
    cn || e164
}

fn check_contact(req: &BookingRequest, snapshot: &Snapshot) -> ApiResult<()> {
    let mut errors = Vec::new();
    let name = req.contact.name.trim();
    if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
        errors.push(invalid_field(
            "/contact/name",
            "give a name of 1 to 50 characters",
        ));
    }
    if !valid_mobile(req.contact.mobile.trim()) {
        errors.push(invalid_field(
            "/contact/mobile",
            "expected a mainland China mobile number (11 digits, starting 13–19) or an E.164 number such as +8613812345678",
        ));
    }
    if req.notes.as_ref().is_some_and(|n| n.chars().count() > 500) {
        errors.push(invalid_field(
            "/notes",
            "notes are limited to 500 characters",
        ));
    }
    if let Some(l) = &req.locale {
        let known = snapshot
            .doc()
            .is_some_and(|d| d.tenant.locales.iter().any(|x| x == l));
        if !known {
            errors.push(invalid_field("/locale", "not one of the tenant's locales"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            code: "invalid_booking",
            detail: "the booking request has invalid fields; nothing was booked".into(),
            errors,
        })
    }
}

fn buyer_actor(booking_id: &str) -> Acting {
    Acting {
        engine: engine::Actor {
            id: format!("buyer:{booking_id}"),
            roles: vec!["buyer".into()],
            relations: vec!["owner".into()],
        },
        name: "buyer".into(),
    }
}

#[utoipa::path(post, path = "/api/v1/public/test-drives", tag = "test-drives",
    description = "Books a test drive: holds a free demo vehicle for the slot and starts the tenant's review workflow. The response's `code` is the buyer's unguessable key to the booking page. With a buyer session (cookie `fc_buyer` or `Authorization: Bearer fcb_…`) the booking joins that buyer's list.",
    request_body = BookingRequest,
    responses((status = 201, body = BuyerBooking), (status = 404, body = crate::http::error::Problem), (status = 409, description = "The slot is taken", body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn book(
    State(state): State<AppState>,
    tenant: PublicTenant,
    buyer: Option<BuyerSession>,
    ApiJson(req): ApiJson<BookingRequest>,
) -> ApiResult<(StatusCode, Json<BuyerBooking>)> {
    let view = create_booking(&state, &tenant.0, &req, buyer.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Books a test drive (the JSON API and the storefront's form): holds a vehicle and starts the
/// review workflow in one transaction. The contact details are sealed; a signed-in buyer of
/// this tenant owns the booking.
pub(crate) async fn create_booking(
    state: &AppState,
    s: &Snapshot,
    req: &BookingRequest,
    buyer: Option<&BuyerSession>,
) -> ApiResult<BuyerBooking> {
    let settings = settings(s)?;
    let store = store_of(s, &req.store, "/store")?;
    check_model(s, &req.store, &req.model, "/model")?;
    check_contact(req, s)?;
    let now = now_ms();
    let (start, end) = check_slot(s, store, &req.slot_start, "/slot_start", now)?;
    let tenant_id = &s.tenant.id;
    let id = uuid::Uuid::now_v7().to_string();
    let code = share_code();
    let locale = req
        .locale
        .clone()
        .or_else(|| s.doc().and_then(|d| d.tenant.locales.first().cloned()))
        .unwrap_or_else(|| "en".into());
    let buyer_id = buyer
        .filter(|b| &b.tenant_id == tenant_id)
        .map(|b| b.buyer_id.as_str());
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    sqlx::query(
        "INSERT INTO test_drive_bookings (tenant_id, id, code, store_code, model_code, vehicle_id, \
         slot_start, slot_end, contact_name, contact_mobile, notes, locale, created_at, buyer_id) \
         VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(tenant_id)
    .bind(&id)
    .bind(&code)
    .bind(&req.store)
    .bind(&req.model)
    .bind(start)
    .bind(end)
    .bind(state.pii.seal(tenant_id, "name", req.contact.name.trim()))
    .bind(
        state
            .pii
            .seal(tenant_id, "mobile", &normalise_mobile(req.contact.mobile.trim())),
    )
    .bind(req.notes.as_deref())
    .bind(&locale)
    .bind(now)
    .bind(buyer_id)
    .execute(&mut *tx)
    .await?;
    let vehicle = hold(
        &mut tx, tenant_id, settings, &req.store, &req.model, start, &id,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict {
        code: "slot_taken",
        detail:
            "every demo vehicle of this model is already booked for that slot; pick another slot"
                .into(),
    })?;
    sqlx::query("UPDATE test_drive_bookings SET vehicle_id = $1 WHERE tenant_id = $2 AND id = $3")
        .bind(&vehicle)
        .bind(tenant_id)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    workflows::start_in(
        &mut tx,
        state,
        s,
        StartSpec {
            workflow_id: &settings.workflow,
            subject_type: SUBJECT,
            subject_id: &id,
            store: Some(&req.store),
            subject: subject(&id, &req.store, &req.model, &vehicle, start, end),
            version: None,
        },
        &buyer_actor(&id),
        now,
    )
    .await?;
    tx.commit().await?;
    buyer_view(state, s, &code).await
}

/// A booking row, contact details opened.
struct BookingRow {
    id: String,
    code: String,
    store: String,
    model: String,
    vehicle: String,
    slot_start: i64,
    slot_end: i64,
    contact_name: String,
    contact_mobile: String,
    notes: Option<String>,
    locale: String,
    created_at: i64,
}

const BOOKING_COLUMNS: &str =
    "id, code, store_code, model_code, vehicle_id, slot_start, slot_end, \
     contact_name, contact_mobile, notes, locale, created_at";

/// Reads a booking row and opens its contact details (legacy plaintext rows pass through).
fn booking_from_row(
    state: &AppState,
    tenant_id: &str,
    r: &sqlx::any::AnyRow,
) -> ApiResult<BookingRow> {
    let open = |field: &str, column: &str| -> ApiResult<String> {
        let stored: String = r.try_get(column)?;
        state
            .pii
            .open_or_legacy(tenant_id, field, &stored)
            .map_err(ApiError::internal)
    };
    Ok(BookingRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        store: r.try_get("store_code")?,
        model: r.try_get("model_code")?,
        vehicle: r.try_get("vehicle_id")?,
        slot_start: r.try_get("slot_start")?,
        slot_end: r.try_get("slot_end")?,
        contact_name: open("name", "contact_name")?,
        contact_mobile: open("mobile", "contact_mobile")?,
        notes: r.try_get("notes")?,
        locale: r.try_get("locale")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn booking_by(
    state: &AppState,
    tx: &mut TenantTx,
    tenant_id: &str,
    column: &'static str,
    value: &str,
) -> ApiResult<BookingRow> {
    // `column` is one of two constants below, never input.
    let row = sqlx::query(&format!(
        "SELECT {BOOKING_COLUMNS} FROM test_drive_bookings WHERE tenant_id = $1 AND {column} = $2"
    ))
    .bind(tenant_id)
    .bind(value)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("test-drive booking `{value}`")))?;
    booking_from_row(state, tenant_id, &row)
}

fn feedback_of(history: &[HistoryEntry]) -> Option<Value> {
    history
        .iter()
        .rev()
        .find(|h| h.transition.as_deref() == Some("feedback") && h.kind == "transition")
        .map(|h| h.input.clone())
}

async fn buyer_view(state: &AppState, s: &Snapshot, code: &str) -> ApiResult<BuyerBooking> {
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let b = booking_by(state, &mut tx, tenant_id, "code", code).await?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, &b.id).await?;
    let history = workflows::history(&mut tx, tenant_id, &stored.id).await?;
    tx.commit().await?;
    let wf = workflows::compiled(state, s, &stored.workflow_id, stored.workflow_version).await?;
    let actions = engine::available(&wf, &stored.instance, &buyer_actor(&b.id).engine);
    let messages = outbox::for_subject(&state.db, tenant_id, SUBJECT, &b.id)
        .await?
        .into_iter()
        .filter(|m| {
            m.kind == "notify" && m.recipient.as_deref() == Some(&format!("buyer:{}", b.id))
        })
        .map(|m| BuyerMessage {
            template: m.name,
            at: rfc3339(m.created_at),
            status: m.status,
        })
        .collect();
    let tz = time_zone(s);
    Ok(BuyerBooking {
        code: b.code,
        store: b.store,
        model: b.model,
        slot_start: super::rfc3339_in(b.slot_start, &tz),
        slot_end: super::rfc3339_in(b.slot_end, &tz),
        contact_name: mask_name(&b.contact_name),
        contact_mobile: mask_mobile(&b.contact_mobile),
        state: stored.instance.state.clone(),
        ended: stored.instance.ended,
        version: stored.instance.version as i64,
        actions,
        feedback: feedback_of(&history),
        history: history.iter().map(BuyerStep::from_history).collect(),
        messages,
    })
}

#[derive(Debug, Deserialize)]
struct CodeParam {
    code: String,
}

#[utoipa::path(get, path = "/api/v1/public/test-drives/{code}", tag = "test-drives",
    params(("code" = String, Path, description = "The booking's code")),
    responses((status = 200, body = BuyerBooking), (status = 404, body = crate::http::error::Problem)))]
async fn get_booking(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(CodeParam { code }): Path<CodeParam>,
) -> ApiResult<Json<BuyerBooking>> {
    Ok(Json(buyer_view(&state, &tenant.0, &code).await?))
}

/// A command on a workflow instance.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// The transition to fire (`approve`, `cancel`, `feedback` …).
    pub transition: String,
    /// What the transition's input schema asks for.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: Option<Value>,
    /// The instance version the caller saw; a stale one gets 409. Required for staff.
    #[serde(default)]
    pub version: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/public/test-drives/{code}/commands", tag = "test-drives",
    description = "The buyer acts on their booking (e.g. `cancel`, or `feedback` after the drive), as the workflow allows the `buyer` role.",
    params(("code" = String, Path, description = "The booking's code")),
    request_body = CommandRequest,
    responses((status = 200, body = BuyerBooking), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem), (status = 409, body = crate::http::error::Problem), (status = 422, body = crate::http::error::Problem)))]
async fn buyer_command(
    State(state): State<AppState>,
    tenant: PublicTenant,
    Path(CodeParam { code }): Path<CodeParam>,
    ApiJson(req): ApiJson<CommandRequest>,
) -> ApiResult<Json<BuyerBooking>> {
    let s = &tenant.0;
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let b = booking_by(&state, &mut tx, tenant_id, "code", &code).await?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, &b.id).await?;
    tx.commit().await?;
    let command = engine::Command::Fire {
        transition: req.transition,
        input: req
            .input
            .unwrap_or_else(|| Value::Object(Default::default())),
    };
    workflows::command(
        &state,
        s,
        &stored.id,
        req.version,
        &command,
        &buyer_actor(&b.id),
    )
    .await?;
    Ok(Json(buyer_view(&state, s, &code).await?))
}

/// A booking as staff see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffBooking {
    pub id: String,
    pub code: String,
    pub store: String,
    pub model: String,
    pub vehicle: String,
    pub slot_start: String,
    pub slot_end: String,
    /// Masked (`张*`, `138****5678`) unless the caller holds `pii.read` on the store.
    pub contact_name: String,
    pub contact_mobile: String,
    /// True when the contact details above are shown in full.
    pub contact_unmasked: bool,
    pub notes: Option<String>,
    pub locale: String,
    pub created_at: String,
    pub instance_id: String,
    pub workflow: String,
    pub workflow_version: i64,
    pub state: String,
    pub ended: bool,
    pub version: i64,
    /// What the caller may do now.
    pub actions: Vec<String>,
}

/// A booking with its workflow, history and pending timers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffBookingDetail {
    #[serde(flatten)]
    pub booking: StaffBooking,
    pub history: Vec<HistoryEntry>,
    pub timers: Vec<PendingTimer>,
    #[schema(value_type = Object)]
    pub feedback: Option<Value>,
}

fn staff_view(
    s: &Snapshot,
    authz: &Authz,
    b: BookingRow,
    stored: &StoredInstance,
    wf: &engine::Workflow,
) -> StaffBooking {
    let tz = time_zone(s);
    let actor = workflows::staff(s, &authz.actor, Some(&b.store));
    let unmasked = authz.policies().allows(
        &authz.actor.principal,
        "pii.read",
        &Resource::Record {
            kind: SUBJECT,
            id: b.id.clone(),
            unit: Some(b.store.clone()),
        },
    );
    let (contact_name, contact_mobile) = if unmasked {
        (b.contact_name, b.contact_mobile)
    } else {
        (mask_name(&b.contact_name), mask_mobile(&b.contact_mobile))
    };
    StaffBooking {
        actions: engine::available(wf, &stored.instance, &actor.engine),
        id: b.id,
        code: b.code,
        store: b.store,
        model: b.model,
        vehicle: b.vehicle,
        slot_start: super::rfc3339_in(b.slot_start, &tz),
        slot_end: super::rfc3339_in(b.slot_end, &tz),
        contact_name,
        contact_mobile,
        contact_unmasked: unmasked,
        notes: b.notes,
        locale: b.locale,
        created_at: rfc3339(b.created_at),
        instance_id: stored.id.clone(),
        workflow: stored.workflow_id.clone(),
        workflow_version: stored.workflow_version,
        state: stored.instance.state.clone(),
        ended: stored.instance.ended,
        version: stored.instance.version as i64,
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BookingQuery {
    /// Only this store.
    #[serde(default)]
    pub store: Option<String>,
    /// Only bookings in this workflow state.
    #[serde(default)]
    pub state: Option<String>,
    /// Include ended bookings (default false).
    #[serde(default)]
    pub include_ended: Option<bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffBookingList {
    pub bookings: Vec<StaffBooking>,
}

#[utoipa::path(get, path = "/api/v1/test-drives", tag = "test-drives", security(("bearer" = [])),
    description = "Test-drive bookings of the stores the caller may read (`test_drive.read`), soonest slot first, at most 500. Contact details are masked unless the caller holds `pii.read` on the booking's store.",
    params(BookingQuery),
    responses((status = 200, body = StaffBookingList), (status = 401, body = crate::http::error::Problem)))]
async fn list_bookings(
    State(state): State<AppState>,
    authz: Authz,
    Query(q): Query<BookingQuery>,
) -> ApiResult<Json<StaffBookingList>> {
    let s = authz.actor.tenant.clone();
    let tenant_id = &s.tenant.id;
    let include_ended = q.include_ended.unwrap_or(false);
    // One query: each booking with its workflow instance, filtered in SQL.
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let rows = sqlx::query(
        "SELECT b.id, b.code, b.store_code, b.model_code, b.vehicle_id, b.slot_start, b.slot_end, \
         b.contact_name, b.contact_mobile, b.notes, b.locale, b.created_at, \
         i.id AS instance_id, i.workflow_id, i.workflow_version, i.body \
         FROM test_drive_bookings b JOIN workflow_instances i ON i.tenant_id = b.tenant_id \
         AND i.subject_type = $2 AND i.subject_id = b.id \
         WHERE b.tenant_id = $1 AND ($3 = '' OR b.store_code = $3) AND ($4 = '' OR i.state = $4) \
         AND ($5 = 1 OR i.ended = 0) ORDER BY b.slot_start, b.id LIMIT 2000",
    )
    .bind(tenant_id)
    .bind(SUBJECT)
    .bind(q.store.as_deref().unwrap_or(""))
    .bind(q.state.as_deref().unwrap_or(""))
    .bind(i64::from(include_ended))
    .fetch_all(&mut *tx)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        // Reach first: contact details are opened only for bookings the caller may read.
        if !authz.allows(&Resource::Record {
            kind: SUBJECT,
            id: r.try_get("id")?,
            unit: Some(r.try_get("store_code")?),
        }) {
            continue;
        }
        let b = booking_from_row(&state, tenant_id, &r)?;
        let body: String = r.try_get("body")?;
        let stored = StoredInstance {
            id: r.try_get("instance_id")?,
            workflow_id: r.try_get("workflow_id")?,
            workflow_version: r.try_get("workflow_version")?,
            subject_type: SUBJECT.to_string(),
            subject_id: b.id.clone(),
            store: Some(b.store.clone()),
            created_at: b.created_at,
            instance: serde_json::from_str(&body).map_err(ApiError::internal)?,
        };
        let wf =
            workflows::compiled(&state, &s, &stored.workflow_id, stored.workflow_version).await?;
        out.push(staff_view(&s, &authz, b, &stored, &wf));
        if out.len() >= 500 {
            break;
        }
    }
    tx.commit().await?;
    Ok(Json(StaffBookingList { bookings: out }))
}

#[derive(Debug, Deserialize)]
struct IdParam {
    id: String,
}

#[utoipa::path(get, path = "/api/v1/test-drives/{id}", tag = "test-drives", security(("bearer" = [])),
    params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, body = StaffBookingDetail), (status = 403, body = crate::http::error::Problem), (status = 404, body = crate::http::error::Problem)))]
async fn staff_booking(
    State(state): State<AppState>,
    authz: Authz,
    Path(IdParam { id }): Path<IdParam>,
) -> ApiResult<Json<StaffBookingDetail>> {
    let s = authz.actor.tenant.clone();
    let tenant_id = &s.tenant.id;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let b = booking_by(&state, &mut tx, tenant_id, "id", &id).await?;
    authz.check(&Resource::Record {
        kind: SUBJECT,
        id: b.id.clone(),
        unit: Some(b.store.clone()),
    })?;
    let stored = workflows::instance_for_subject(&mut tx, tenant_id, SUBJECT, &b.id).await?;
    let history = workflows::history(&mut tx, tenant_id, &stored.id).await?;
    let timers = workflows::pending_timers(&mut tx, tenant_id, &stored.id).await?;
    tx.commit().await?;
    let wf = workflows::compiled(&state, &s, &stored.workflow_id, stored.workflow_version).await?;
    Ok(Json(StaffBookingDetail {
        booking: staff_view(&s, &authz, b, &stored, &wf),
        feedback: feedback_of(&history),
        history,
        timers,
    }))
}

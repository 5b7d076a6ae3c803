//! Vehicle orders: a buyer orders from a saved configuration or a specific vehicle (VIN), pays
//! a deposit and the balance, and follows the order; the stores involved see the same state.
//! The lifecycle is the tenant's workflow (`orders.workflow` in tenant.yaml, subject
//! `vehicle_order`), which names the states; the platform fires a few transitions by name:
//!
//! | transition     | fired by                                  | what the platform does with it      |
//! |----------------|-------------------------------------------|-------------------------------------|
//! | `deposit_paid` | the deposit's verified payment callback    | the reservation becomes firm        |
//! | `expire`       | the tenant's timer (`at: reserved_until`)  | the vehicle is released             |
//! | `allocate`     | staff (optionally with `input.vin`)        | the vehicle is sold to the order    |
//! | `balance_paid` | the balance's verified payment callback    | —                                   |
//! | `deliver`      | staff                                      | the vehicle is marked delivered     |
//!
//! Any transition that **ends** the instance other than `deliver` cancels the order: its
//! vehicle is released and what the buyer paid is refunded minus what the tenant's refund
//! rules keep (`orders.refunds`).
//!
//! **Invariants**
//! - No oversell: a vehicle is promised by one conditional update (see
//!   [`crate::inventory::stock`]); an order either holds its vehicle or was refused `sold_out`.
//! - An order, its reservation, its workflow instance, its first outbox messages and its
//!   idempotency key commit together, in the order writer's batch ([`desk`]); the buyer is
//!   answered only after that commit.
//! - The buyer's name, mobile number and ID number are stored sealed ([`crate::pii`]); they
//!   never enter the workflow subject, the outbox, the idempotency record or the logs.
//! - Money is integer minor units of the tenant's currency; an order in another currency is
//!   refused.

pub mod batch;
pub mod desk;
pub mod page;
pub mod routes;

use std::sync::Arc;

use forecourt_tenant_config::model::OrderSettings;
use forecourt_workflow_engine as engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;

use crate::catalog::routes::{evaluate, ConfigureRequest};
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::inventory::builds::LookupError;
use crate::inventory::stock;
use crate::state::AppState;
use crate::store::rows::{Rows, Val};
use crate::store::{rfc3339, TenantTx};
use crate::tenancy::Snapshot;
use crate::workflows::{self, Acting, StartSpec, StoredInstance};

pub use desk::OrderDesk;

/// The subject type of orders in workflow definitions.
pub const SUBJECT: &str = "vehicle_order";

/// The tenant's order settings, or a 404 naming why there are none.
pub fn settings(snapshot: &Snapshot) -> ApiResult<&OrderSettings> {
    snapshot
        .doc()
        .and_then(|d| d.orders.as_ref())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "orders: tenant `{}` takes no online orders (no `orders` in its tenant.yaml)",
                snapshot.tenant.slug
            ))
        })
}

/// The buyer's details as sent.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerDetails {
    pub name: String,
    /// A mainland mobile number (11 digits) or an E.164 number.
    pub mobile: String,
    /// Resident identity card number (18 characters, check digit validated); needed for
    /// registration, may be given later at the store.
    #[serde(default)]
    pub id_number: Option<String>,
}

/// `POST /api/v1/public/orders`: exactly one of `configuration` and `vin`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Share code of a saved configuration: the order takes a matching vehicle.
    #[serde(default)]
    pub configuration: Option<String>,
    /// A specific vehicle.
    #[serde(default)]
    pub vin: Option<String>,
    /// The store that sells and hands over the car.
    pub store: String,
    pub buyer: BuyerDetails,
    /// When given, must be the storefront's currency.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
}

/// An order ready for the writer: validated, priced, personal data sealed.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub snapshot: Arc<Snapshot>,
    /// Idempotency scope, key and request fingerprint (no key: no replay protection).
    pub scope: String,
    pub key: Option<String>,
    pub fingerprint: String,
    pub id: String,
    pub number: String,
    pub tracking_token: String,
    pub tracking_hash: String,
    pub buyer_id: Option<String>,
    pub store: String,
    pub channel: &'static str,
    pub configuration: Option<String>,
    pub vin: Option<String>,
    pub model: String,
    pub trim: String,
    pub options: Vec<String>,
    pub build_key: String,
    pub price: i64,
    pub deposit: i64,
    pub currency: String,
    pub reserved_until: i64,
    pub name_enc: String,
    pub mobile_enc: String,
    pub id_number_enc: Option<String>,
    pub mobile_index: String,
    pub locale: String,
    pub now: i64,
}

/// The answer to a placed order. `tracking_token` is shown once, here: only its hash is kept.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlacedOrder {
    pub id: String,
    pub number: String,
    pub state: String,
    pub tracking_token: String,
    /// The guest's link to follow the order (keep it private: whoever has it can see and
    /// cancel the order).
    pub tracking_url: String,
    pub vin: Option<String>,
    pub store: String,
    pub fulfilling_store: Option<String>,
    pub model: String,
    pub trim: String,
    pub price: i64,
    pub deposit: i64,
    pub currency: String,
    /// Pay the deposit before this time (RFC 3339) or the reservation lapses.
    pub deposit_due: String,
}

fn invalid(code: &'static str, pointer: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(code, pointer, message)
}

/// Checks an 18-character resident identity card number (GB 11643: ISO 7064 MOD 11-2 check
/// character); returns it upper-cased.
pub fn valid_id_number(raw: &str) -> Result<String, String> {
    let id = raw.trim().to_ascii_uppercase();
    if id.len() != 18 {
        return Err(format!(
            "an identity card number has 18 characters, this one has {}",
            id.chars().count()
        ));
    }
    let bytes = id.as_bytes();
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err("the first 17 characters of an identity card number are digits".into());
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    if bytes[17] != expected {
        return Err(format!(
            "the check character is `{}` but this number needs `{}`; please check it",
            bytes[17] as char, expected as char
        ));
    }
    Ok(id)
}

/// Validates and prices an order request; seals the buyer's data. Everything the writer does
/// not need to decide atomically happens here, outside the writer.
pub async fn prepare(
    state: &AppState,
    snapshot: Arc<Snapshot>,
    req: &OrderRequest,
    buyer_id: Option<String>,
    key: Option<String>,
    fingerprint: String,
) -> ApiResult<NewOrder> {
    let settings = settings(&snapshot)?;
    let doc = snapshot
        .doc()
        .ok_or_else(|| ApiError::NotFound("this storefront".into()))?;
    let tenant_id = snapshot.tenant.id.clone();
    let mut errors = Vec::new();
    let mut push = |pointer: &str, message: String| {
        errors.push(FieldError {
            pointer: pointer.into(),
            message,
        })
    };
    let store = doc.org.store(&req.store);
    if store.is_none() {
        push("/store", format!("there is no store `{}`", req.store));
    }
    let name = req.buyer.name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        push("/buyer/name", "give a name of 1 to 50 characters".into());
    }
    let mobile = req.buyer.mobile.trim();
    if !crate::test_drives::routes::valid_mobile(mobile) {
        push(
            "/buyer/mobile",
            "give a mainland mobile number (11 digits, e.g. 13812345678) or an international number starting with +".into(),
        );
    }
    let id_number = match req.buyer.id_number.as_deref().map(valid_id_number) {
        Some(Ok(id)) => Some(id),
        Some(Err(why)) => {
            push("/buyer/id_number", why);
            None
        }
        None => None,
    };
    if let Some(currency) = &req.currency {
        if currency != &doc.tenant.currency {
            push(
                "/currency",
                format!(
                    "this storefront sells in {}; an order in {currency} cannot be taken",
                    doc.tenant.currency
                ),
            );
        }
    }
    match (&req.configuration, &req.vin) {
        (Some(_), Some(_)) | (None, None) => push(
            "",
            "give exactly one of `configuration` (a saved build's code) and `vin` (a vehicle)"
                .into(),
        ),
        _ => {}
    }
    if !errors.is_empty() {
        let code = if errors.iter().any(|e| e.pointer == "/currency") {
            "currency_mismatch"
        } else {
            "invalid_order"
        };
        return Err(ApiError::Invalid {
            code,
            detail: errors
                .iter()
                .map(|e| format!("{}: {}", e.pointer, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        });
    }
    let store = store.ok_or_else(|| ApiError::internal("store checked above"))?;

    // The build: from the saved configuration or from the vehicle.
    let (model, trim, selections, vin): (String, String, Vec<String>, Option<String>) =
        if let Some(code) = &req.configuration {
            let saved = crate::catalog::routes::load_configuration(state, &snapshot, code.clone())
                .await
                .map_err(|e| match e {
                    ApiError::NotFound(_) => invalid(
                        "unknown_configuration",
                        "/configuration",
                        format!("there is no saved configuration `{code}` on this storefront"),
                    ),
                    other => other,
                })?;
            (saved.model, saved.trim, saved.selections, None)
        } else {
            let raw = req.vin.as_deref().unwrap_or_default();
            let vin = crate::inventory::vin::Vin::parse(raw)
                .map_err(|e| invalid("invalid_vin", "/vin", e.to_string()))?
                .into_string();
            // Looked up together with the other orders' vehicles arriving meanwhile: one
            // statement per tenant and batch (`inventory::builds`).
            let build = state
                .vehicle_builds
                .get(&state.db, &tenant_id, &vin)
                .await
                .map_err(|e| match e {
                    LookupError::Busy => ApiError::Unavailable(
                        "too many orders are being taken; retry in a moment with the same Idempotency-Key"
                            .into(),
                    ),
                    LookupError::Stopped => ApiError::Unavailable(
                        "the server is stopping; retry with the same Idempotency-Key".into(),
                    ),
                    LookupError::Db(cause) => ApiError::internal(cause),
                })?
                .ok_or_else(|| {
                    invalid(
                        "unknown_vehicle",
                        "/vin",
                        format!("there is no vehicle {vin} in this network's stock"),
                    )
                })?;
            let options: Vec<String> =
                serde_json::from_str(&build.options).map_err(ApiError::internal)?;
            (build.model_code, build.trim_code, options, Some(vin))
        };
    let request = ConfigureRequest {
        trim: trim.clone(),
        selections,
        region: Some(store.region.clone()),
    };
    let (evaluation, _) = evaluate(&snapshot, &model, &request).map_err(|e| {
        invalid(
            "unknown_build",
            if vin.is_some() {
                "/vin"
            } else {
                "/configuration"
            },
            format!(
                "this build of `{model}` ({trim}) cannot be sold any more: {}",
                e.detail()
            ),
        )
    })?;
    let options: Vec<String> = evaluation
        .resolved
        .values()
        .flat_map(|codes| codes.iter().cloned())
        .collect();
    let build_key = stock::build_key(&model, &trim, &options);
    let price = evaluation.price.total;
    if price <= 0 {
        return Err(invalid(
            "unknown_build",
            "/configuration",
            "this build has no price; it cannot be ordered",
        ));
    }
    let deposit = settings.deposit.min(price);
    let now = crate::store::now_ms();
    let vault = &state.pii;
    let id = uuid::Uuid::now_v7();
    let (tracking_token, tracking_hash) = tracking_token(id);
    let locale = req
        .locale
        .clone()
        .filter(|l| doc.tenant.locales.contains(l))
        .or_else(|| doc.tenant.locales.first().cloned())
        .unwrap_or_else(|| "en".into());
    Ok(NewOrder {
        scope: scope_of(buyer_id.as_deref()),
        key,
        fingerprint,
        id: id.to_string(),
        number: crate::catalog::share_code().to_ascii_uppercase(),
        tracking_token,
        tracking_hash,
        buyer_id,
        store: store.code.clone(),
        channel: store.kind.as_str(),
        configuration: req.configuration.clone(),
        vin,
        model,
        trim,
        options,
        build_key,
        price,
        deposit,
        currency: doc.tenant.currency.clone(),
        reserved_until: now + i64::from(settings.reservation_minutes) * 60_000,
        name_enc: vault.seal(&tenant_id, "name", name),
        mobile_enc: vault.seal(&tenant_id, "mobile", mobile),
        id_number_enc: id_number.map(|id| vault.seal(&tenant_id, "id_number", &id)),
        mobile_index: vault.mobile_index(&tenant_id, mobile),
        locale,
        now,
        snapshot,
    })
}

/// Characters of an order number (Crockford base32, upper case).
pub const ORDER_NUMBER_LEN: usize = 12;

/// An order number as stored, from what a buyer read out or a clerk typed: case, spaces and
/// hyphens are ignored, and the letters Crockford base32 leaves out read as the digits they
/// look like (O as 0, I and L as 1). `Err` says what is wrong with it.
pub fn order_number(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(ORDER_NUMBER_LEN);
    for c in raw.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c @ ('0'..='9' | 'A'..='Z') if c != 'U' => c,
            other => {
                return Err(format!(
                    "an order number has letters and digits only; `{other}` is not one of them"
                ))
            }
        };
        out.push(c);
    }
    // Only ASCII letters and digits were kept: bytes are characters.
    if out.len() != ORDER_NUMBER_LEN {
        return Err(format!(
            "an order number has {ORDER_NUMBER_LEN} characters; this one has {}",
            out.len()
        ));
    }
    Ok(out)
}

/// The idempotency scope of an order request: the signed-in buyer's, or the public's.
pub fn scope_of(buyer_id: Option<&str>) -> String {
    match buyer_id {
        Some(id) => format!("buyer:{id}"),
        None => "public".into(),
    }
}

/// Characters of a tracking token's secret: 26 Crockford base32 characters, 130 random bits.
pub const TRACKING_SECRET_LEN: usize = 26;
/// Characters of a tracking token: the order id (32 hex digits) followed by the secret.
pub const TRACKING_TOKEN_LEN: usize = 32 + TRACKING_SECRET_LEN;

/// A fresh tracking token for order `order_id` and what is stored of it.
///
/// The token is the order id (32 hex digits, no hyphens) followed by a 130-bit secret; the
/// order keeps `<order id>:<SHA-256 hex of the secret>`. The stored values of new orders thus
/// begin with a time-ordered id, so their unique index grows at one end instead of taking a
/// random page per order (it was the largest single share of what the order writer wrote to
/// SQLite's log). Tokens issued before, 26 characters of secret alone stored as its bare hash,
/// still resolve (see [`tracking_lookup`]).
pub fn tracking_token(order_id: uuid::Uuid) -> (String, String) {
    let secret = crate::catalog::random_code(TRACKING_SECRET_LEN);
    let stored = format!("{}:{}", order_id.hyphenated(), token_hash(&secret));
    (format!("{}{secret}", order_id.simple()), stored)
}

/// What a tracking token presented by a client is stored as, or `None` when it cannot be a
/// token (wrong length or characters): the same value [`tracking_token`] stored.
pub fn tracking_lookup(token: &str) -> Option<String> {
    if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match token.len() {
        TRACKING_TOKEN_LEN => {
            let (id, secret) = token.split_at(32);
            let id = uuid::Uuid::try_parse(id).ok()?.hyphenated().to_string();
            Some(format!("{id}:{}", token_hash(secret)))
        }
        // Issued before tokens named their order.
        TRACKING_SECRET_LEN => Some(token_hash(token)),
        _ => None,
    }
}

/// The SHA-256 hex of a tracking secret.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn sold_out(order: &NewOrder) -> ApiError {
    match &order.vin {
        Some(vin) => ApiError::Conflict {
            code: "sold_out",
            detail: format!(
                "vehicle {vin} is no longer available: another buyer has it reserved or bought it"
            ),
        },
        None => ApiError::Conflict {
            code: "sold_out",
            detail: format!(
                "sold out: no vehicle of this build ({}) is left in the network",
                order.build_key
            ),
        },
    }
}

/// The workflow subject of an order: what guards, timers and messages may see (no personal
/// data).
pub fn subject(order: &NewOrder, vin: Option<&str>, fulfilling: Option<&str>) -> Value {
    serde_json::json!({
        "order": order.id,
        "number": order.number,
        "store": order.store,
        "channel": order.channel,
        "fulfilling_store": fulfilling,
        "vin": vin,
        "model": order.model,
        "trim": order.trim,
        "price": order.price,
        "deposit": order.deposit,
        "currency": order.currency,
        "reserved_until": rfc3339(order.reserved_until),
    })
}

/// Places one order inside the writer's transaction: reserve a vehicle, start the lifecycle,
/// write the order. Any error leaves the caller to roll back to its savepoint.
pub async fn place_in(
    tx: &mut TenantTx,
    state: &AppState,
    order: &NewOrder,
    workflow_version: Option<i64>,
) -> ApiResult<PlacedOrder> {
    let snapshot = &order.snapshot;
    let settings = settings(snapshot)?;
    let tenant_id = &snapshot.tenant.id;
    let reserved = match &order.vin {
        Some(vin) => {
            stock::reserve_vin(
                tx,
                tenant_id,
                vin,
                &order.id,
                order.reserved_until,
                order.now,
            )
            .await?
        }
        None => {
            stock::reserve_matching(
                tx,
                state.db.backend,
                tenant_id,
                &order.build_key,
                &order.store,
                &order.id,
                order.reserved_until,
                order.now,
            )
            .await?
        }
    };
    if reserved.is_none() && (order.vin.is_some() || !settings.build_to_order) {
        return Err(sold_out(order));
    }
    let vin = reserved.as_ref().map(|r| r.vin.as_str());
    let fulfilling = reserved.as_ref().map(|r| r.store.as_str());
    let stored = workflows::start_in(
        tx,
        state,
        snapshot,
        start_spec(order, settings, vin, fulfilling, workflow_version),
        &buyer_acting(order),
        order.now,
    )
    .await?;
    let mut rows = Rows::new(ORDER_INSERT, ORDER_WIDTH, "");
    rows.push(order_row(order, vin, fulfilling, &stored.instance.state)?);
    rows.write(tx).await?;
    Ok(placed_order(
        state,
        order,
        vin,
        fulfilling,
        &stored.instance.state,
    ))
}

/// How an order starts its lifecycle workflow.
pub(crate) fn start_spec<'a>(
    order: &'a NewOrder,
    settings: &'a OrderSettings,
    vin: Option<&str>,
    fulfilling: Option<&str>,
    version: Option<i64>,
) -> StartSpec<'a> {
    StartSpec {
        workflow_id: &settings.workflow,
        subject_type: SUBJECT,
        subject_id: &order.id,
        store: Some(&order.store),
        subject: subject(order, vin, fulfilling),
        version,
    }
}

/// The buyer placing `order`, as the workflow sees them.
pub(crate) fn buyer_acting(order: &NewOrder) -> Acting {
    Acting {
        engine: engine::Actor {
            id: format!("buyer:{}", order.id),
            roles: vec!["buyer".into()],
            relations: vec!["owner".into()],
        },
        name: "buyer".into(),
    }
}

pub(crate) const ORDER_INSERT: &str = "INSERT INTO orders (tenant_id, id, number, tracking_hash, \
     buyer_id, store_code, channel, fulfilling_store, configuration_code, vin, model_code, \
     trim_code, options, build_key, price, deposit, currency, paid, refunded, state, \
     reserved_until, buyer_name_enc, buyer_mobile_enc, buyer_id_number_enc, buyer_mobile_index, \
     locale, created_at, updated_at)";
pub(crate) const ORDER_WIDTH: usize = 28;

/// The new order's row for [`ORDER_INSERT`], in lifecycle state `state`.
pub(crate) fn order_row(
    order: &NewOrder,
    vin: Option<&str>,
    fulfilling: Option<&str>,
    state: &str,
) -> ApiResult<Vec<Val>> {
    Ok(vec![
        (&order.snapshot.tenant.id).into(),
        (&order.id).into(),
        (&order.number).into(),
        (&order.tracking_hash).into(),
        order.buyer_id.as_deref().into(),
        (&order.store).into(),
        order.channel.into(),
        fulfilling.into(),
        order.configuration.as_deref().into(),
        vin.into(),
        (&order.model).into(),
        (&order.trim).into(),
        serde_json::to_string(&order.options)
            .map_err(ApiError::internal)?
            .into(),
        (&order.build_key).into(),
        order.price.into(),
        order.deposit.into(),
        (&order.currency).into(),
        0_i64.into(),
        0_i64.into(),
        state.into(),
        order.reserved_until.into(),
        (&order.name_enc).into(),
        (&order.mobile_enc).into(),
        order.id_number_enc.as_deref().into(),
        (&order.mobile_index).into(),
        (&order.locale).into(),
        order.now.into(),
        order.now.into(),
    ])
}

/// The answer to a placed order.
pub(crate) fn placed_order(
    state: &AppState,
    order: &NewOrder,
    vin: Option<&str>,
    fulfilling: Option<&str>,
    lifecycle_state: &str,
) -> PlacedOrder {
    PlacedOrder {
        id: order.id.clone(),
        number: order.number.clone(),
        state: lifecycle_state.to_string(),
        tracking_url: page::tracking_url(state, &order.snapshot.tenant.slug, &order.tracking_token),
        tracking_token: order.tracking_token.clone(),
        vin: vin.map(str::to_string),
        store: order.store.clone(),
        fulfilling_store: fulfilling.map(str::to_string),
        model: order.model.clone(),
        trim: order.trim.clone(),
        price: order.price,
        deposit: order.deposit,
        currency: order.currency.clone(),
        deposit_due: rfc3339(order.reserved_until),
    }
}

/// After the workflow accepted a command on an order (inside its transaction): keeps the
/// vehicle and the order row in step with the transition. `Some(subject)`: the order moved to
/// another vehicle (an allocation), and this is the workflow subject with its new VIN and
/// fulfilling store, for the instance and the step's messages.
pub async fn after_step(
    tx: &mut TenantTx,
    backend: crate::store::Backend,
    snapshot: &Snapshot,
    stored: &StoredInstance,
    outcome: &engine::Outcome,
    now: i64,
) -> ApiResult<Option<Value>> {
    if stored.subject_type != SUBJECT {
        return Ok(None);
    }
    let tenant_id = &snapshot.tenant.id;
    let order_id = &stored.subject_id;
    if outcome.record.from.is_none() {
        // The start of an order: `place_in` writes the order itself.
        return Ok(None);
    }
    let transition = outcome.record.transition.as_deref().unwrap_or_default();
    let mut moved = None;
    match transition {
        "deposit_paid" => {
            // The deposit was verified before the step; a lapsed reservation was handled there.
            stock::confirm(tx, tenant_id, order_id, now).await?;
        }
        "allocate" => {
            if let Some(vehicle) =
                allocate(tx, backend, snapshot, order_id, &outcome.record.input, now).await?
            {
                let mut subject = outcome.instance.subject.clone();
                if let Some(fields) = subject.as_object_mut() {
                    fields.insert("vin".into(), vehicle.vin.into());
                    fields.insert("fulfilling_store".into(), vehicle.store.into());
                    moved = Some(subject);
                }
            }
        }
        "deliver" => {
            stock::deliver(tx, tenant_id, order_id, now).await?;
        }
        _ => {}
    }
    let ended_unsold = outcome.instance.ended && transition != "deliver";
    sqlx::query(
        "UPDATE orders SET state = $1, updated_at = $2, \
         reserved_until = CASE WHEN $3 = 1 THEN NULL ELSE reserved_until END \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(&outcome.instance.state)
    .bind(now)
    .bind(i64::from(
        transition == "deposit_paid" || outcome.instance.ended,
    ))
    .bind(tenant_id)
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    if ended_unsold {
        stock::release(tx, tenant_id, order_id, now).await?;
        let from = outcome.record.from.as_deref().unwrap_or_default();
        let keep = settings(snapshot)
            .map(|s| s.kept_on_cancel(from))
            .unwrap_or(0);
        crate::payments::refund_order(tx, snapshot, order_id, keep, now).await?;
    }
    Ok(moved)
}

/// `allocate`: the order gets its vehicle for good — the one it holds, the VIN staff name in
/// `input.vin` (same build, free; e.g. from another dealer's stock), or for a factory order the
/// first free vehicle of its build. Refused (and nothing changes) when there is none. Returns
/// the vehicle when it is not the one the order held.
async fn allocate(
    tx: &mut TenantTx,
    backend: crate::store::Backend,
    snapshot: &Snapshot,
    order_id: &str,
    input: &Value,
    now: i64,
) -> ApiResult<Option<stock::Reserved>> {
    let tenant_id = &snapshot.tenant.id;
    let row = sqlx::query(
        "SELECT vin, build_key, store_code FROM orders WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    let held: Option<String> = row.try_get("vin")?;
    let build_key: String = row.try_get("build_key")?;
    let store: String = row.try_get("store_code")?;
    let named = match input.get("vin").and_then(Value::as_str) {
        Some(raw) => Some(
            crate::inventory::vin::Vin::parse(raw)
                .map_err(|e| invalid("invalid_vin", "/input/vin", e.to_string()))?
                .into_string(),
        ),
        None => None,
    };
    let vehicle = match (named, held) {
        (Some(vin), held) if held.as_deref() != Some(vin.as_str()) => {
            let got = stock::reserve_vin(tx, tenant_id, &vin, order_id, now, now)
                .await?
                .ok_or_else(|| ApiError::Conflict {
                    code: "vehicle_unavailable",
                    detail: format!("vehicle {vin} is not free to allocate (unknown, held by another order, sold or delivered)"),
                })?;
            if got.build_key != build_key {
                return Err(ApiError::Conflict {
                    code: "build_mismatch",
                    detail: format!(
                        "vehicle {vin} is a {} but the order is for a {build_key}",
                        got.build_key
                    ),
                });
            }
            if let Some(old) = held {
                // The vehicle held so far goes back to stock.
                sqlx::query(
                    "UPDATE vehicles SET hold = 'free', order_id = NULL, reserved_until = NULL, \
                     updated_at = $1, version = version + 1 \
                     WHERE tenant_id = $2 AND vin = $3 AND order_id = $4",
                )
                .bind(now)
                .bind(tenant_id)
                .bind(&old)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
            }
            Some(got)
        }
        (None, None) => Some(
            stock::reserve_matching(
                tx, backend, tenant_id, &build_key, &store, order_id, now, now,
            )
            .await?
            .ok_or_else(|| ApiError::Conflict {
                code: "sold_out",
                detail: format!("no free vehicle of this build ({build_key}) to allocate yet"),
            })?,
        ),
        // The order keeps the vehicle it holds.
        _ => None,
    };
    if let Some(v) = &vehicle {
        sqlx::query(
            "UPDATE orders SET vin = $1, fulfilling_store = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(&v.vin)
        .bind(&v.store)
        .bind(tenant_id)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    }
    if !stock::sell(tx, tenant_id, order_id, now).await? {
        return Err(ApiError::Conflict {
            code: "vehicle_unavailable",
            detail: "the order holds no vehicle to allocate".into(),
        });
    }
    Ok(vehicle)
}

/// An order as staff and its buyer see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub state: String,
    pub store: String,
    pub channel: String,
    pub fulfilling_store: Option<String>,
    pub configuration: Option<String>,
    pub vin: Option<String>,
    pub model: String,
    pub trim: String,
    pub options: Vec<String>,
    pub price: i64,
    pub deposit: i64,
    pub paid: i64,
    pub refunded: i64,
    pub currency: String,
    /// While the deposit is unpaid: when the reservation lapses (RFC 3339).
    pub deposit_due: Option<String>,
    pub buyer: BuyerView,
    pub instance_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The buyer's details, masked unless the viewer may see them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BuyerView {
    pub name: String,
    pub mobile: String,
    pub id_number: Option<String>,
    /// False when the values are masked.
    pub unmasked: bool,
}

/// The columns [`view_from_row`] reads.
pub const VIEW_COLUMNS: &str = "o.id, o.number, o.state, o.store_code, o.channel, \
    o.fulfilling_store, o.configuration_code, o.vin, o.model_code, o.trim_code, o.options, \
    o.price, o.deposit, o.paid, o.refunded, o.currency, o.reserved_until, o.buyer_name_enc, \
    o.buyer_mobile_enc, o.buyer_id_number_enc, o.created_at, o.updated_at, \
    (SELECT w.id FROM workflow_instances w WHERE w.tenant_id = o.tenant_id \
     AND w.subject_type = 'vehicle_order' AND w.subject_id = o.id) AS instance_id";

/// Builds an order view; personal data opened and shown as is when `unmasked`, masked else.
pub fn view_from_row(
    state: &AppState,
    tenant_id: &str,
    row: &sqlx::any::AnyRow,
    unmasked: bool,
) -> ApiResult<OrderView> {
    let open = |field: &str, column: &str| -> ApiResult<String> {
        let sealed: String = row.try_get(column)?;
        state
            .pii
            .open(tenant_id, field, &sealed)
            .map_err(ApiError::internal)
    };
    let name = open("name", "buyer_name_enc")?;
    let mobile = open("mobile", "buyer_mobile_enc")?;
    let id_number = match row.try_get::<Option<String>, _>("buyer_id_number_enc")? {
        Some(sealed) => Some(
            state
                .pii
                .open(tenant_id, "id_number", &sealed)
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let buyer = if unmasked {
        BuyerView {
            name,
            mobile,
            id_number,
            unmasked: true,
        }
    } else {
        BuyerView {
            name: crate::pii::mask_name(&name),
            mobile: crate::pii::mask_mobile(&mobile),
            id_number: id_number.as_deref().map(crate::pii::mask_id_number),
            unmasked: false,
        }
    };
    let options: String = row.try_get("options")?;
    let state_name: String = row.try_get("state")?;
    Ok(OrderView {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        store: row.try_get("store_code")?,
        channel: row.try_get("channel")?,
        fulfilling_store: row.try_get("fulfilling_store")?,
        configuration: row.try_get("configuration_code")?,
        vin: row.try_get("vin")?,
        model: row.try_get("model_code")?,
        trim: row.try_get("trim_code")?,
        options: serde_json::from_str(&options).map_err(ApiError::internal)?,
        price: row.try_get("price")?,
        deposit: row.try_get("deposit")?,
        paid: row.try_get("paid")?,
        refunded: row.try_get("refunded")?,
        currency: row.try_get("currency")?,
        deposit_due: row
            .try_get::<Option<i64>, _>("reserved_until")?
            .map(rfc3339),
        buyer,
        instance_id: row.try_get("instance_id")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
        state: state_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_read_as_a_buyer_says_them() {
        assert_eq!(order_number("8v75-8z1t-w275").unwrap(), "8V758Z1TW275");
        assert_eq!(order_number(" 8V75 8Z1T W275 ").unwrap(), "8V758Z1TW275");
        // O, I and L are not in the alphabet: they are the digits they look like.
        assert_eq!(order_number("oIL000000000").unwrap(), "011000000000");
        // Every number the shop gives out reads back as itself.
        for _ in 0..200 {
            let issued = crate::catalog::share_code().to_ascii_uppercase();
            assert_eq!(order_number(&issued).unwrap(), issued);
        }
        let short = order_number("8V758Z1TW27").unwrap_err();
        assert!(
            short.contains("12 characters") && short.contains("11"),
            "{short}"
        );
        let odd = order_number("8V758Z1TW27U").unwrap_err();
        assert!(odd.contains("`U`"), "{odd}");
        assert!(order_number("8V758Z1TW27*").unwrap_err().contains("`*`"));
    }

    #[test]
    fn identity_card_numbers_are_checked() {
        // 11010519491231002X is the standard's worked example.
        assert_eq!(
            valid_id_number("11010519491231002x").as_deref(),
            Ok("11010519491231002X")
        );
        assert!(valid_id_number("110105194912310021").is_err());
        assert!(valid_id_number("1101051949123100").is_err());
        assert!(valid_id_number("1101051949123100AX").is_err());
    }

    #[test]
    fn tracking_tokens_are_long_distinct_and_stored_hashed() {
        let uuid = uuid::Uuid::now_v7();
        let id = uuid.to_string();
        let (a, ha) = tracking_token(uuid);
        let (b, hb) = tracking_token(uuid);
        assert_eq!(a.len(), TRACKING_TOKEN_LEN);
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        // Stored: the order id, then the secret's hash — never the secret.
        assert!(ha.starts_with(&format!("{id}:")), "{ha}");
        assert!(!ha.contains(&a[32..]));
        assert_eq!(tracking_lookup(&a), Some(ha.clone()));
        // Another secret for the same order, or another order's id, is not the stored value.
        let forged = format!("{}{}", &a[..32], &b[32..]);
        assert_ne!(tracking_lookup(&forged), Some(ha.clone()));
        let other = uuid::Uuid::now_v7().simple().to_string();
        assert_ne!(tracking_lookup(&format!("{other}{}", &a[32..])), Some(ha));
    }

    #[test]
    fn tracking_lookup_refuses_what_cannot_be_a_token_and_keeps_old_tokens() {
        assert_eq!(tracking_lookup(""), None);
        assert_eq!(tracking_lookup(&"a".repeat(57)), None);
        assert_eq!(tracking_lookup(&format!("{}x", "z".repeat(57))), None);
        assert_eq!(tracking_lookup(&"a/".repeat(29)), None);
        // A token issued before: 26 characters, stored as the bare hash.
        let old = crate::catalog::random_code(TRACKING_SECRET_LEN);
        assert_eq!(tracking_lookup(&old), Some(token_hash(&old)));
    }
}

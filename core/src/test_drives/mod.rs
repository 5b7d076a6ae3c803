//! Test drives: a buyer books a demo vehicle at a store for one slot; the booking's review is
//! the tenant's workflow (`test_drives.workflow` in tenant.yaml, subject `test_drive_booking`).
//!
//! Slots come from the tenant's settings (`slot_minutes`, `lead_minutes`, `horizon_days`) and
//! each store's opening hours, in the tenant's time zone; storage is UTC.
//!
//! **Invariants**
//! - No double booking: a (vehicle, slot) pair is a primary key in `test_drive_holds`; a
//!   booking holds exactly one vehicle for its slot until it ends or moves.
//! - The booking, its hold, its workflow instance and its first messages commit together.
//! - The buyer's contact details live in the booking row only, sealed (`crate::pii`): never in
//!   the workflow subject, the history, the outbox or the logs. Staff see them masked unless
//!   they hold `pii.read` on the booking's store; the buyer's page always masks them.
//! - A booking made by a signed-in buyer carries that buyer's id (`buyer_id`).

pub mod routes;

use forecourt_tenant_config::model::{DemoVehicle, OpeningHours, Store, TestDriveSettings};
use forecourt_workflow_engine as engine;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::store::{rfc3339, TenantTx};
use crate::tenancy::Snapshot;
use crate::workflows::StoredInstance;

/// The subject type of bookings in workflow definitions.
pub const SUBJECT: &str = "test_drive_booking";

/// The tenant's settings, or a 404 naming why there are none.
pub fn settings(snapshot: &Snapshot) -> ApiResult<&TestDriveSettings> {
    snapshot
        .doc()
        .and_then(|d| d.test_drives.as_ref())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "test drives: tenant `{}` takes no test-drive bookings (no `test_drives` in its tenant.yaml)",
                snapshot.tenant.slug
            ))
        })
}

/// The tenant's time zone (IANA name from tenant.yaml; UTC if unknown to the bundled database).
pub fn time_zone(snapshot: &Snapshot) -> TimeZone {
    snapshot
        .doc()
        .and_then(|d| TimeZone::get(&d.tenant.time_zone).ok())
        .unwrap_or(TimeZone::UTC)
}

/// One bookable slot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Slot {
    /// Start and end, RFC 3339 in the tenant's time zone.
    pub start: String,
    pub end: String,
    /// Demo vehicles of the model still free in this slot.
    pub free: u32,
    #[serde(skip)]
    pub start_ms: i64,
    #[serde(skip)]
    pub end_ms: i64,
}

fn day_ranges(hours: &OpeningHours, day: Date) -> &[String] {
    use jiff::civil::Weekday::*;
    let specific = match day.weekday() {
        Monday => &hours.mon,
        Tuesday => &hours.tue,
        Wednesday => &hours.wed,
        Thursday => &hours.thu,
        Friday => &hours.fri,
        Saturday => &hours.sat,
        Sunday => &hours.sun,
    };
    specific
        .as_deref()
        .or(hours.daily.as_deref())
        .unwrap_or(&[])
}

fn parse_hm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

/// The slot grid of `store` on local `day` (before availability and the booking window).
pub fn grid(
    store: &Store,
    settings: &TestDriveSettings,
    tz: &TimeZone,
    day: Date,
) -> Vec<(i64, i64)> {
    let step = i64::from(settings.slot_minutes) * 60_000;
    let mut out = Vec::new();
    for range in day_ranges(&store.opening_hours, day) {
        let Some((open, close)) = range.split_once('-') else {
            continue;
        };
        let (Some(open), Some(close)) = (parse_hm(open), parse_hm(close)) else {
            continue;
        };
        let (Ok(open), Ok(close)) = (
            day.to_datetime(open).to_zoned(tz.clone()),
            day.to_datetime(close).to_zoned(tz.clone()),
        ) else {
            continue;
        };
        let (open, close) = (
            open.timestamp().as_millisecond(),
            close.timestamp().as_millisecond(),
        );
        let mut start = open;
        while start + step <= close {
            out.push((start, start + step));
            start += step;
        }
    }
    out
}

/// The demo vehicles of `model` at `store`.
pub fn vehicles<'a>(
    settings: &'a TestDriveSettings,
    store: &str,
    model: &str,
) -> Vec<&'a DemoVehicle> {
    settings
        .fleet
        .iter()
        .filter(|v| v.store == store && v.model == model)
        .collect()
}

pub fn rfc3339_in(ms: i64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        Err(_) => rfc3339(ms),
    }
}

/// Slots of `model` at `store` on local `day`, within the booking window, with free counts.
pub async fn slots(
    tx: &mut TenantTx,
    snapshot: &Snapshot,
    store: &Store,
    model: &str,
    day: Date,
    now: i64,
) -> ApiResult<Vec<Slot>> {
    let settings = settings(snapshot)?;
    let tz = time_zone(snapshot);
    let fleet = vehicles(settings, &store.code, model);
    let (earliest, latest) = window(settings, now);
    let grid: Vec<(i64, i64)> = grid(store, settings, &tz, day)
        .into_iter()
        .filter(|(s, _)| *s >= earliest && *s <= latest)
        .collect();
    let (Some(first), Some(last)) = (grid.first(), grid.last()) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(
        "SELECT vehicle_id, slot_start FROM test_drive_holds WHERE tenant_id = $1 \
         AND slot_start >= $2 AND slot_start <= $3",
    )
    .bind(&snapshot.tenant.id)
    .bind(first.0)
    .bind(last.0)
    .fetch_all(&mut **tx)
    .await?;
    let mut held = std::collections::HashSet::new();
    for r in rows {
        held.insert((
            r.try_get::<String, _>("vehicle_id")?,
            r.try_get::<i64, _>("slot_start")?,
        ));
    }
    Ok(grid
        .into_iter()
        .map(|(s, e)| Slot {
            start: rfc3339_in(s, &tz),
            end: rfc3339_in(e, &tz),
            free: fleet
                .iter()
                .filter(|v| !held.contains(&(v.id.clone(), s)))
                .count() as u32,
            start_ms: s,
            end_ms: e,
        })
        .collect())
}

/// The earliest and latest slot start allowed now.
fn window(settings: &TestDriveSettings, now: i64) -> (i64, i64) {
    (
        now + i64::from(settings.lead_minutes) * 60_000,
        now + i64::from(settings.horizon_days) * 86_400_000,
    )
}

/// Checks that `slot_start` (RFC 3339) is a slot of `store` inside the booking window; returns
/// (start, end) in UTC milliseconds. `field` names the input field for errors.
pub fn check_slot(
    snapshot: &Snapshot,
    store: &Store,
    slot_start: &str,
    field: &str,
    now: i64,
) -> ApiResult<(i64, i64)> {
    let settings = settings(snapshot)?;
    let tz = time_zone(snapshot);
    let invalid = |message: String| ApiError::Invalid {
        code: "invalid_slot",
        detail: "the requested slot cannot be booked".into(),
        errors: vec![FieldError {
            pointer: field.to_string(),
            message,
        }],
    };
    let ts: Timestamp = slot_start.parse().map_err(|_| {
        invalid(format!(
            "`{slot_start}` is not an RFC 3339 date-time such as 2026-11-27T10:00:00+08:00"
        ))
    })?;
    let ms = ts.as_millisecond();
    let day = ts.to_zoned(tz.clone()).date();
    let Some(&(start, end)) = grid(store, settings, &tz, day)
        .iter()
        .find(|(s, _)| *s == ms)
    else {
        return Err(invalid(format!(
            "{slot_start} is not a slot start at store `{}`: slots last {} minutes from opening time within its opening hours; GET the slots list for valid starts",
            store.code, settings.slot_minutes
        )));
    };
    let (earliest, latest) = window(settings, now);
    if start < earliest {
        return Err(invalid(format!(
            "{slot_start} is too soon: bookings start at least {} minutes from now",
            settings.lead_minutes
        )));
    }
    if start > latest {
        return Err(invalid(format!(
            "{slot_start} is too far ahead: bookings are open for the next {} days",
            settings.horizon_days
        )));
    }
    Ok((start, end))
}

/// Holds a free vehicle of `model` at `store` for the slot starting at `start`; `None` when
/// every one is taken.
pub async fn hold(
    tx: &mut TenantTx,
    tenant_id: &str,
    settings: &TestDriveSettings,
    store: &str,
    model: &str,
    start: i64,
    booking_id: &str,
) -> ApiResult<Option<String>> {
    for v in vehicles(settings, store, model) {
        let taken = sqlx::query(
            "INSERT INTO test_drive_holds (tenant_id, vehicle_id, slot_start, booking_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&v.id)
        .bind(start)
        .bind(booking_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Some(v.id.clone()));
        }
    }
    Ok(None)
}

/// The workflow subject of a booking: what guards, timers and messages may see (no contact
/// details).
pub fn subject(
    booking_id: &str,
    store: &str,
    model: &str,
    vehicle: &str,
    start: i64,
    end: i64,
) -> Value {
    serde_json::json!({
        "booking": booking_id,
        "store": store,
        "model": model,
        "vehicle": vehicle,
        "slot_start": rfc3339(start),
        "slot_end": rfc3339(end),
    })
}

fn slot_taken() -> ApiError {
    ApiError::Conflict {
        code: "slot_taken",
        detail:
            "every demo vehicle of this model is already booked for that slot; pick another slot"
                .into(),
    }
}

/// After the workflow accepted a command on a booking: a transition whose input carries
/// `slot_start` moves the booking to that slot (a reschedule), holding a free vehicle for it;
/// returns the booking's new workflow subject.
pub async fn after_accepted(
    tx: &mut TenantTx,
    snapshot: &Snapshot,
    stored: &StoredInstance,
    command: &engine::Command,
    now: i64,
) -> ApiResult<Option<Value>> {
    if stored.subject_type != SUBJECT {
        return Ok(None);
    }
    let engine::Command::Fire { input, .. } = command else {
        return Ok(None);
    };
    let Some(slot_start) = input.get("slot_start").and_then(Value::as_str) else {
        return Ok(None);
    };
    let settings = settings(snapshot)?;
    let tenant_id = &snapshot.tenant.id;
    let booking_id = stored.subject_id.clone();
    let row = sqlx::query(
        "SELECT store_code, model_code FROM test_drive_bookings WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(&booking_id)
    .fetch_one(&mut **tx)
    .await?;
    let store_code: String = row.try_get("store_code")?;
    let model: String = row.try_get("model_code")?;
    let doc = snapshot
        .doc()
        .ok_or_else(|| ApiError::Internal("tenant has no configuration".into()))?;
    let store = doc
        .org
        .store(&store_code)
        .ok_or_else(|| ApiError::NotFound(format!("store `{store_code}`")))?;
    let (start, end) = check_slot(snapshot, store, slot_start, "/input/slot_start", now)?;
    sqlx::query("DELETE FROM test_drive_holds WHERE tenant_id = $1 AND booking_id = $2")
        .bind(tenant_id)
        .bind(&booking_id)
        .execute(&mut **tx)
        .await?;
    let vehicle = hold(
        tx,
        tenant_id,
        settings,
        &store_code,
        &model,
        start,
        &booking_id,
    )
    .await?
    .ok_or_else(slot_taken)?;
    sqlx::query(
        "UPDATE test_drive_bookings SET slot_start = $1, slot_end = $2, vehicle_id = $3 \
         WHERE tenant_id = $4 AND id = $5",
    )
    .bind(start)
    .bind(end)
    .bind(&vehicle)
    .bind(tenant_id)
    .bind(&booking_id)
    .execute(&mut **tx)
    .await?;
    Ok(Some(subject(
        &booking_id,
        &store_code,
        &model,
        &vehicle,
        start,
        end,
    )))
}

/// When a booking's workflow ends (rejected, cancelled, closed), its vehicle is free again.
pub async fn on_ended(
    tx: &mut TenantTx,
    tenant_id: &str,
    stored: &StoredInstance,
) -> ApiResult<()> {
    if stored.subject_type == SUBJECT {
        sqlx::query("DELETE FROM test_drive_holds WHERE tenant_id = $1 AND booking_id = $2")
            .bind(tenant_id)
            .bind(&stored.subject_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

//! CSV import and DMS sync of vehicle stock: one validation path for both, one transaction.
//!
//! An upload (a `text/csv` file or a JSON `{"vehicles": [...]}` body) is parsed into
//! [`Item`]s, every item is checked — VIN, build against the catalog, store, stage, dates,
//! amounts, reference, duplicates, the caller's scope — and, inside the transaction, against
//! the stored vehicle of the same VIN (its store's scope, an order's hold). Every problem is
//! collected with its place (CSV line and column name, or JSON pointer `/vehicles/3/vin`).
//!
//! **Invariants**
//! - All or nothing: any problem and the upload is refused (422, or 403 when every problem is
//!   the caller's scope) with all problems listed; nothing is written.
//! - Upsert by VIN: a new VIN is inserted (`hold = 'free'`); a known VIN gets store, stage,
//!   arrival date, holding cost, external reference and build updated with `version + 1`, or
//!   is left alone when nothing differs. `hold`, `order_id` and `reserved_until` are never
//!   written here: orders own them.
//! - A vehicle an order holds keeps its build; it is delivered through its order, never by
//!   import; once delivered through an order its stage does not change.
//! - The transaction's first statement takes the tenant's write lock (on SQLite the database
//!   write lock before any read; on PostgreSQL imports of one tenant serialise and the read
//!   vehicles are locked `FOR UPDATE`), so the checks hold when the writes happen.

use crate::store::rows::placeholders;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{json, Value};

use super::vin::Vin;
use super::{parse_date, stock, Build, BuildCache, VehicleRow, VEHICLE_COLUMNS};
use crate::http::error::{ApiError, ApiResult, LocatedError};
use crate::outbox::{self, Kind, Message};
use crate::store::{Backend, TenantTx};
use crate::tenancy::Snapshot;

/// The most vehicles one upload may hold.
pub const MAX_VEHICLES: usize = 5_000;
/// The longest external reference, in characters.
pub const MAX_EXTERNAL_REF: usize = 64;
/// The largest holding cost per month, in minor units (10^12: ten billion in a two-decimal
/// currency), so that every computed cost fits an `i64`.
pub const MAX_HOLDING_COST: i64 = 1_000_000_000_000;

/// The columns of an import file, each required exactly once, in any order.
pub const CSV_COLUMNS: [&str; 9] = [
    "vin",
    "model",
    "trim",
    "options",
    "store",
    "stage",
    "arrival_date",
    "holding_cost_per_month",
    "external_ref",
];

/// Where an upload came from (stored as the vehicle's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Csv,
    Sync,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Csv => "csv",
            Source::Sync => "sync",
        }
    }
}

/// Where an item is in its upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A CSV line (1-based; line 1 is the header).
    Line(u64),
    /// An index into a JSON body's `vehicles`.
    Item(usize),
}

impl Origin {
    /// A problem of `field` (a column / member name; empty for the whole item) of this item.
    pub fn error(self, field: &str, code: &str, message: impl Into<String>) -> LocatedError {
        let (line, column, pointer) = match self {
            Origin::Line(l) => (
                Some(l),
                (!field.is_empty()).then(|| field.to_string()),
                None,
            ),
            Origin::Item(i) => (
                None,
                None,
                Some(if field.is_empty() {
                    format!("/vehicles/{i}")
                } else {
                    format!("/vehicles/{i}/{field}")
                }),
            ),
        };
        LocatedError {
            code: code.to_string(),
            line,
            column,
            pointer,
            message: message.into(),
        }
    }

    fn describe(self) -> String {
        match self {
            Origin::Line(l) => format!("line {l}"),
            Origin::Item(i) => format!("/vehicles/{i}"),
        }
    }
}

/// One vehicle as uploaded. A field is `None` when it was missing or of the wrong type (that
/// problem is already recorded); text is trimmed.
#[derive(Debug, Clone, Default)]
pub struct Item {
    pub vin: Option<String>,
    pub model: Option<String>,
    pub trim: Option<String>,
    pub options: Option<Vec<String>>,
    pub store: Option<String>,
    pub stage: Option<String>,
    pub arrival_date: Option<String>,
    pub holding_cost_per_month: Option<i64>,
    pub external_ref: Option<String>,
}

/// A parsed upload: its items with their places, and the problems found while parsing.
#[derive(Debug)]
pub struct Upload {
    pub source: Source,
    pub items: Vec<(Origin, Item)>,
    pub errors: Vec<LocatedError>,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

fn too_many(n: usize) -> ApiError {
    ApiError::Upload {
        status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        code: "too_many_vehicles",
        detail: format!(
            "An upload holds at most {MAX_VEHICLES} vehicles; this one holds {n}. Send it in batches of up to {MAX_VEHICLES}."
        ),
        errors: Vec::new(),
    }
}

fn refused(errors: Vec<LocatedError>) -> ApiError {
    let only_scope = errors.iter().all(|e| e.code == "forbidden");
    let n = errors.len();
    if only_scope {
        ApiError::Upload {
            status: axum::http::StatusCode::FORBIDDEN,
            code: "forbidden",
            detail: format!(
                "{n} vehicle(s) are at stores where you may not import vehicles; nothing was imported. See `errors`."
            ),
            errors,
        }
    } else {
        ApiError::Upload {
            status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            code: "vehicles_invalid",
            detail: format!(
                "{n} problem(s) found; nothing was imported. Fix them all and send the upload again. See `errors`."
            ),
            errors,
        }
    }
}

/// Line numbers of byte offsets in a text.
struct Lines<'a> {
    text: &'a [u8],
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Lines {
            text: text.as_bytes(),
            starts,
        }
    }

    /// The 1-based line of the first non-blank byte at or after `byte` (the `csv` crate may
    /// place a record's start before the blank lines that precede it).
    fn line_at(&self, byte: usize) -> u64 {
        let mut at = byte.min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        let line = match self.starts.binary_search(&at) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        line as u64
    }
}

/// Parses an import file (UTF-8 CSV, header row naming every column of [`CSV_COLUMNS`]).
pub fn parse_csv(bytes: &[u8]) -> ApiResult<Upload> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64
                + 1;
            return Err(refused(vec![Origin::Line(line).error(
                "",
                "invalid_encoding",
                "the file is not UTF-8 here; save it as \"CSV UTF-8\"",
            )]));
        }
    };
    let lines = Lines::new(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut upload = Upload {
        source: Source::Csv,
        items: Vec::new(),
        errors: Vec::new(),
    };
    let mut columns: Option<HashMap<&'static str, usize>> = None;
    let mut width = 0;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| lines.line_at(usize::try_from(p.byte()).unwrap_or(usize::MAX)))
                    .unwrap_or(1);
                upload.errors.push(Origin::Line(line).error(
                    "",
                    "malformed_csv",
                    format!("this CSV cannot be read from here on: {e}"),
                ));
                return Err(refused(upload.errors));
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = record
            .position()
            .map(|p| lines.line_at(usize::try_from(p.byte()).unwrap_or(usize::MAX)))
            .unwrap_or(1);
        let Some(map) = &columns else {
            let header = header_columns(&record, line, &mut upload.errors);
            if !upload.errors.is_empty() {
                return Err(refused(upload.errors));
            }
            width = record.len();
            columns = Some(header);
            continue;
        };
        if upload.items.len() == MAX_VEHICLES {
            let rest = reader
                .records()
                .filter(|r| match r {
                    Ok(r) => !r.iter().all(|f| f.trim().is_empty()),
                    Err(_) => true,
                })
                .count();
            return Err(too_many(MAX_VEHICLES + 1 + rest));
        }
        let origin = Origin::Line(line);
        if record.len() != width {
            upload.errors.push(origin.error(
                "",
                "wrong_field_count",
                format!(
                    "this line has {} fields but the header names {width} columns",
                    record.len()
                ),
            ));
            continue;
        }
        let field = |name: &str| -> String {
            map.get(name)
                .and_then(|i| record.get(*i))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let non_empty = |v: String| (!v.is_empty()).then_some(v);
        let cost_text = field("holding_cost_per_month");
        let holding_cost_per_month = if cost_text.is_empty() {
            upload.errors.push(origin.error(
                "holding_cost_per_month",
                "missing_value",
                "give the holding cost per month in minor units (0 for none)",
            ));
            None
        } else {
            match cost_text.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    upload.errors.push(origin.error(
                        "holding_cost_per_month",
                        "invalid_amount",
                        format!(
                            "`{cost_text}` is not a whole number of minor units (write 150000 for 1,500.00)"
                        ),
                    ));
                    None
                }
            }
        };
        let item = Item {
            vin: Some(field("vin")),
            model: Some(field("model")),
            trim: Some(field("trim")),
            options: Some(
                field("options")
                    .split('|')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            store: Some(field("store")),
            stage: Some(field("stage")),
            arrival_date: non_empty(field("arrival_date")),
            holding_cost_per_month,
            external_ref: non_empty(field("external_ref")),
        };
        upload.items.push((origin, item));
    }
    if columns.is_none() {
        upload.errors.push(Origin::Line(1).error(
            "",
            "missing_header",
            format!(
                "the file is empty; its first line must name the columns: {}",
                CSV_COLUMNS.join(",")
            ),
        ));
        return Err(refused(upload.errors));
    }
    Ok(upload)
}

fn header_columns(
    record: &csv::StringRecord,
    line: u64,
    errors: &mut Vec<LocatedError>,
) -> HashMap<&'static str, usize> {
    let at = Origin::Line(line);
    let mut map = HashMap::new();
    for (i, raw) in record.iter().enumerate() {
        let name = raw.trim().to_ascii_lowercase();
        match CSV_COLUMNS.iter().find(|c| **c == name) {
            Some(c) if map.contains_key(c) => errors.push(at.error(
                raw.trim(),
                "duplicate_column",
                format!("column `{c}` is named twice in the header"),
            )),
            Some(c) => {
                map.insert(*c, i);
            }
            None => errors.push(at.error(
                raw.trim(),
                "unknown_column",
                format!(
                    "column `{}` is not one of {}",
                    raw.trim(),
                    CSV_COLUMNS.join(", ")
                ),
            )),
        }
    }
    for c in CSV_COLUMNS {
        if !map.contains_key(c) {
            errors.push(at.error(
                c,
                "missing_column",
                format!(
                    "the header has no column `{c}`; every file names all of: {}",
                    CSV_COLUMNS.join(", ")
                ),
            ));
        }
    }
    map
}

/// The members of a sync item.
const ITEM_FIELDS: [&str; 9] = CSV_COLUMNS;

/// Parses a sync body: `{"vehicles": [{vin, model, trim, options, store, stage, arrival_date,
/// holding_cost_per_month, external_ref}, …]}`. Every shape problem of every item is
/// recorded with its pointer.
pub fn parse_sync(bytes: &[u8]) -> ApiResult<Upload> {
    let body: Value = crate::http::extract::parse_json(bytes)?;
    let mut upload = Upload {
        source: Source::Sync,
        items: Vec::new(),
        errors: Vec::new(),
    };
    let shape = |pointer: &str, code: &str, message: &str| LocatedError {
        code: code.to_string(),
        line: None,
        column: None,
        pointer: Some(pointer.to_string()),
        message: message.to_string(),
    };
    let Some(root) = body.as_object() else {
        return Err(refused(vec![shape(
            "",
            "invalid_body",
            "the body must be an object: {\"vehicles\": [...]}",
        )]));
    };
    for key in root.keys().filter(|k| *k != "vehicles") {
        upload.errors.push(shape(
            &format!("/{}", pointer_escape(key)),
            "unknown_field",
            "unknown member; the body has only `vehicles`",
        ));
    }
    let Some(list) = root.get("vehicles").and_then(Value::as_array) else {
        upload.errors.push(shape(
            "/vehicles",
            "invalid_body",
            "`vehicles` must be an array of vehicles",
        ));
        return Err(refused(upload.errors));
    };
    if list.len() > MAX_VEHICLES {
        return Err(too_many(list.len()));
    }
    for (i, value) in list.iter().enumerate() {
        let origin = Origin::Item(i);
        let Some(obj) = value.as_object() else {
            upload
                .errors
                .push(origin.error("", "invalid_body", "each vehicle must be an object"));
            continue;
        };
        for key in obj.keys() {
            if !ITEM_FIELDS.contains(&key.as_str()) {
                upload.errors.push(origin.error(
                    &pointer_escape(key),
                    "unknown_field",
                    format!("unknown member; a vehicle has {}", ITEM_FIELDS.join(", ")),
                ));
            }
        }
        let errors = &mut upload.errors;
        let mut text = |name: &str, required: bool| -> Option<String> {
            match obj.get(name) {
                Some(Value::String(s)) => {
                    Some(s.trim().to_string()).filter(|s| required || !s.is_empty())
                }
                None | Some(Value::Null) if !required => None,
                None | Some(Value::Null) => {
                    errors.push(origin.error(name, "missing_value", "required"));
                    None
                }
                Some(_) => {
                    errors.push(origin.error(name, "invalid_type", "must be a string"));
                    None
                }
            }
        };
        let vin = text("vin", true);
        let model = text("model", true);
        let trim = text("trim", true);
        let store = text("store", true);
        let stage = text("stage", true);
        let arrival_date = text("arrival_date", false);
        let external_ref = text("external_ref", false);
        let options = match obj.get("options") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(list)) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (j, o) in list.iter().enumerate() {
                    match o.as_str() {
                        Some(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        _ => {
                            ok = false;
                            upload.errors.push(origin.error(
                                &format!("options/{j}"),
                                "invalid_type",
                                "an option is a non-empty string (an option code)",
                            ));
                        }
                    }
                }
                ok.then_some(out)
            }
            Some(_) => {
                upload.errors.push(origin.error(
                    "options",
                    "invalid_type",
                    "must be an array of option codes",
                ));
                None
            }
        };
        let holding_cost_per_month = match obj.get("holding_cost_per_month") {
            None | Some(Value::Null) => {
                upload.errors.push(origin.error(
                    "holding_cost_per_month",
                    "missing_value",
                    "required: the holding cost per month in minor units (0 for none)",
                ));
                None
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) => Some(v),
                None => {
                    upload.errors.push(origin.error(
                        "holding_cost_per_month",
                        "invalid_amount",
                        format!("`{n}` is not a whole number of minor units"),
                    ));
                    None
                }
            },
            Some(_) => {
                upload.errors.push(origin.error(
                    "holding_cost_per_month",
                    "invalid_type",
                    "must be an integer (minor units)",
                ));
                None
            }
        };
        upload.items.push((
            origin,
            Item {
                vin,
                model,
                trim,
                options,
                store,
                stage,
                arrival_date,
                holding_cost_per_month,
                external_ref,
            },
        ));
    }
    Ok(upload)
}

fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// An item after the checks that need no database: each field present only if valid.
#[derive(Debug, Clone)]
struct Checked {
    origin: Origin,
    vin: Option<String>,
    build: Option<Build>,
    store: Option<String>,
    stage: Option<String>,
    arrival_date: Option<String>,
    holding_cost_per_month: Option<i64>,
    external_ref: Option<String>,
}

/// Who may import where: `(vin, store) → allowed` (the caller's `vehicle.import` decision on
/// the vehicle as a record of that store).
pub type MayImport<'a> = &'a (dyn Fn(&str, &str) -> bool + Send + Sync);

fn check_items(
    s: &Snapshot,
    upload: &Upload,
    may_import: MayImport<'_>,
    today: jiff::civil::Date,
    errors: &mut Vec<LocatedError>,
) -> Vec<Checked> {
    let mut builds = BuildCache::default();
    let mut first_of: HashMap<String, Origin> = HashMap::new();
    let tz = crate::test_drives::time_zone(s);
    let tz_name = tz.iana_name().unwrap_or("UTC").to_string();
    let mut out = Vec::with_capacity(upload.items.len());
    for (origin, item) in &upload.items {
        let origin = *origin;
        let at = |field: &str, code: &str, message: String| origin.error(field, code, message);
        let vin = item.vin.as_deref().and_then(|v| match Vin::parse(v) {
            Ok(vin) => Some(vin.into_string()),
            Err(e) => {
                errors.push(at("vin", e.code(), e.to_string()));
                None
            }
        });
        if let Some(v) = &vin {
            if let Some(first) = first_of.get(v) {
                errors.push(at(
                    "vin",
                    "duplicate_vin",
                    format!(
                        "VIN {v} is also at {}; each vehicle once per upload",
                        first.describe()
                    ),
                ));
            } else {
                first_of.insert(v.clone(), origin);
            }
        }
        let build = match (&item.model, &item.trim, &item.options) {
            (Some(model), Some(trim), Some(options)) => {
                match builds.resolve(s, model, trim, options) {
                    Ok(b) => Some(b),
                    Err(problems) => {
                        for p in problems {
                            errors.push(at(p.field, p.code, p.message));
                        }
                        None
                    }
                }
            }
            _ => None,
        };
        let store = item.store.as_deref().and_then(|code| {
            if s.doc().and_then(|d| d.org.store(code)).is_some() {
                Some(code.to_string())
            } else {
                errors.push(at(
                    "store",
                    "unknown_store",
                    if code.is_empty() {
                        "give the store code".to_string()
                    } else {
                        format!("`{code}` is not a store of this tenant")
                    },
                ));
                None
            }
        });
        let stage = item.stage.as_deref().and_then(|st| {
            if stock::STAGES.contains(&st) {
                Some(st.to_string())
            } else if st == "reserved" || st == "sold" {
                errors.push(at(
                    "stage",
                    "stage_set_by_orders",
                    format!(
                        "`{st}` is set by orders, never imported: send where the vehicle is ({}); an order reserves or sells it",
                        stock::STAGES.join(", ")
                    ),
                ));
                None
            } else {
                errors.push(at(
                    "stage",
                    "invalid_stage",
                    format!("`{st}` is not a stage; use one of {}", stock::STAGES.join(", ")),
                ));
                None
            }
        });
        let arrival_date = match item.arrival_date.as_deref() {
            None => {
                if let Some(st @ ("in_stock" | "delivered")) = stage.as_deref() {
                    errors.push(at(
                        "arrival_date",
                        "missing_arrival_date",
                        format!(
                            "a vehicle whose stage is `{st}` needs its arrival date (YYYY-MM-DD)"
                        ),
                    ));
                }
                None
            }
            Some(text) => match parse_date(text) {
                None => {
                    errors.push(at(
                        "arrival_date",
                        "invalid_date",
                        format!("`{text}` is not a date written YYYY-MM-DD"),
                    ));
                    None
                }
                Some(d) => {
                    let arrived = matches!(stage.as_deref(), Some("in_stock" | "delivered"));
                    if arrived && d > today {
                        errors.push(at(
                            "arrival_date",
                            "arrival_in_future",
                            format!(
                                "the stage says the vehicle has arrived but {text} is after today ({today}, {tz_name}); send `in_transit` with the planned date"
                            ),
                        ));
                        None
                    } else {
                        Some(text.to_string())
                    }
                }
            },
        };
        let holding_cost_per_month = item.holding_cost_per_month.and_then(|c| {
            if c < 0 {
                errors.push(at(
                    "holding_cost_per_month",
                    "negative_amount",
                    format!("{c} is negative; a holding cost is 0 or more minor units"),
                ));
                None
            } else if c > MAX_HOLDING_COST {
                errors.push(at(
                    "holding_cost_per_month",
                    "amount_too_large",
                    format!("{c} is more than the limit of {MAX_HOLDING_COST} minor units"),
                ));
                None
            } else {
                Some(c)
            }
        });
        let external_ref = match item.external_ref.as_deref() {
            Some(r) if r.chars().count() > MAX_EXTERNAL_REF => {
                errors.push(at(
                    "external_ref",
                    "external_ref_too_long",
                    format!(
                        "{} characters; an external reference has at most {MAX_EXTERNAL_REF}",
                        r.chars().count()
                    ),
                ));
                None
            }
            Some(r) if r.chars().any(char::is_control) => {
                errors.push(at(
                    "external_ref",
                    "invalid_external_ref",
                    "control characters are not allowed".to_string(),
                ));
                None
            }
            other => other.map(str::to_string),
        };
        if let (Some(v), Some(st)) = (&vin, &store) {
            if !may_import(v, st) {
                errors.push(at(
                    "store",
                    "forbidden",
                    format!("you may not import vehicles into store `{st}` (none of your roles grants vehicle.import there)"),
                ));
            }
        }
        out.push(Checked {
            origin,
            vin,
            build,
            store,
            stage,
            arrival_date,
            holding_cost_per_month,
            external_ref,
        });
    }
    out
}

/// Takes the tenant's write lock: the first statement of the import transaction.
async fn lock_tenant(tx: &mut TenantTx, tenant_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tenants SET status = status WHERE id = $1")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The stored vehicles among `vins` (locked for this transaction on PostgreSQL).
async fn existing(
    tx: &mut TenantTx,
    backend: Backend,
    tenant_id: &str,
    vins: &[&str],
) -> Result<HashMap<String, VehicleRow>, sqlx::Error> {
    let lock = match backend {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let mut out = HashMap::new();
    for chunk in vins.chunks(500) {
        let sql = format!(
            "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE tenant_id = $1 AND vin IN ({}) \
             ORDER BY vin{lock}",
            placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(tenant_id);
        for v in chunk {
            q = q.bind(*v);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let v = VehicleRow::from_row(&row)?;
            out.insert(v.vin.clone(), v);
        }
    }
    Ok(out)
}

/// A write to make.
enum Write<'a> {
    Insert(&'a Ready),
    Update(&'a Ready, i64),
}

/// A fully valid item.
struct Ready {
    vin: String,
    build: Build,
    store: String,
    stage: String,
    arrival_date: Option<String>,
    holding_cost_per_month: i64,
    external_ref: Option<String>,
}

/// Checks `upload` and, when every item is valid, upserts it in `tx`, writing an audit entry
/// and (when `announce`) a `vehicle.imported` event when anything changed. Refuses the whole
/// upload otherwise. `may_import` decides the caller's scope; `actor` names the caller in the
/// audit log.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    tx: &mut TenantTx,
    backend: Backend,
    s: &Snapshot,
    upload: &Upload,
    may_import: MayImport<'_>,
    actor: &str,
    announce: bool,
    today: jiff::civil::Date,
    now: i64,
) -> ApiResult<Counts> {
    let tenant_id = s.tenant.id.as_str();
    let mut errors = upload.errors.clone();
    let checked = check_items(s, upload, may_import, today, &mut errors);
    lock_tenant(tx, tenant_id).await?;
    let vins: Vec<&str> = checked.iter().filter_map(|c| c.vin.as_deref()).collect();
    let stored = existing(tx, backend, tenant_id, &vins).await?;

    for c in &checked {
        let Some(old) = c.vin.as_ref().and_then(|v| stored.get(v)) else {
            continue;
        };
        let at = |field: &str, code: &str, message: String| c.origin.error(field, code, message);
        if c.store.as_deref() != Some(old.store.as_str()) && !may_import(&old.vin, &old.store) {
            errors.push(at(
                "vin",
                "forbidden",
                "this VIN is already stocked at a store where you may not import vehicles"
                    .to_string(),
            ));
            continue;
        }
        let held = old.hold != "free";
        if !held {
            continue;
        }
        let what = if old.hold == "sold" {
            "sold"
        } else {
            "reserved"
        };
        if let Some(b) = &c.build {
            if b.key != old.build_key {
                let field = if b.model != old.model {
                    "model"
                } else if b.trim != old.trim {
                    "trim"
                } else {
                    "options"
                };
                errors.push(at(
                    field,
                    "vehicle_held",
                    format!(
                        "this vehicle is {what} to an order, so its build cannot change (stored build `{}`)",
                        old.build_key
                    ),
                ));
            }
        }
        match c.stage.as_deref() {
            Some("delivered") if old.stage != "delivered" => errors.push(at(
                "stage",
                "vehicle_held",
                format!(
                    "this vehicle is {what} to an order; it is delivered through the order, not by import"
                ),
            )),
            Some(st) if old.stage == "delivered" && st != "delivered" => errors.push(at(
                "stage",
                "vehicle_held",
                format!("this vehicle was delivered through an order; its stage stays `delivered` (not `{st}`)"),
            )),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(refused(errors));
    }

    // Every item is valid: every field is present.
    let ready: Vec<Ready> = checked
        .into_iter()
        .filter_map(|c| {
            Some(Ready {
                vin: c.vin?,
                build: c.build?,
                store: c.store?,
                stage: c.stage?,
                arrival_date: c.arrival_date,
                holding_cost_per_month: c.holding_cost_per_month?,
                external_ref: c.external_ref,
            })
        })
        .collect();
    if ready.len() != upload.items.len() {
        return Err(ApiError::Internal(
            "an import item without errors lacks a field".into(),
        ));
    }
    let mut writes = Vec::new();
    let mut counts = Counts {
        created: 0,
        updated: 0,
        unchanged: 0,
    };
    for r in &ready {
        match stored.get(&r.vin) {
            None => {
                counts.created += 1;
                writes.push(Write::Insert(r));
            }
            Some(old) if same(old, r) => counts.unchanged += 1,
            Some(old) => {
                counts.updated += 1;
                writes.push(Write::Update(r, old.version));
            }
        }
    }
    let source = upload.source.as_str();
    let inserts: Vec<&Ready> = writes
        .iter()
        .filter_map(|w| match w {
            Write::Insert(r) => Some(*r),
            Write::Update(..) => None,
        })
        .collect();
    for chunk in inserts.chunks(100) {
        insert(tx, tenant_id, chunk, source, now).await?;
    }
    for w in &writes {
        if let Write::Update(r, version) = w {
            update(tx, tenant_id, r, *version, source, now).await?;
        }
    }
    if counts.created + counts.updated > 0 {
        crate::audit::record_in(
            tx,
            tenant_id,
            actor,
            "vehicle.import",
            "vehicles",
            json!({
                "source": source,
                "created": counts.created,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
            }),
        )
        .await?;
    }
    if announce && counts.created + counts.updated > 0 {
        let created: Vec<&str> = inserts.iter().map(|r| r.vin.as_str()).collect();
        let updated: Vec<&str> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Update(r, _) => Some(r.vin.as_str()),
                Write::Insert(_) => None,
            })
            .collect();
        outbox::enqueue(
            tx,
            tenant_id,
            &Message {
                kind: Kind::Event,
                name: "vehicle.imported".into(),
                recipient: None,
                subject: None,
                payload: json!({
                    "source": source,
                    "created": created,
                    "updated": updated,
                    "unchanged": counts.unchanged,
                }),
            },
            now,
        )
        .await?;
    }
    Ok(counts)
}

fn same(old: &VehicleRow, r: &Ready) -> bool {
    old.model == r.build.model
        && old.trim == r.build.trim
        && old.options == r.build.options
        && old.build_key == r.build.key
        && old.store == r.store
        && old.stage == r.stage
        && old.arrival_date == r.arrival_date
        && old.holding_cost_per_month == r.holding_cost_per_month
        && old.external_ref == r.external_ref
}

async fn insert(
    tx: &mut TenantTx,
    tenant_id: &str,
    rows: &[&Ready],
    source: &str,
    now: i64,
) -> ApiResult<()> {
    const PER_ROW: usize = 14;
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let first = 1 + i * PER_ROW;
            let p = |k: usize| format!("${}", first + k);
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, 'free', {}, {}, {}, {}, 1, {}, {})",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10),
                p(11),
                p(12),
                p(13)
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO vehicles (tenant_id, vin, model_code, trim_code, options, build_key, \
         store_code, stage, hold, arrival_date, holding_cost_per_month, source, external_ref, \
         version, created_at, updated_at) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for r in rows {
        let options = serde_json::to_string(&r.build.options).map_err(ApiError::internal)?;
        q = q
            .bind(tenant_id)
            .bind(&r.vin)
            .bind(&r.build.model)
            .bind(&r.build.trim)
            .bind(options)
            .bind(&r.build.key)
            .bind(&r.store)
            .bind(&r.stage)
            .bind(r.arrival_date.as_deref())
            .bind(r.holding_cost_per_month)
            .bind(source)
            .bind(r.external_ref.as_deref())
            .bind(now)
            .bind(now);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn update(
    tx: &mut TenantTx,
    tenant_id: &str,
    r: &Ready,
    version: i64,
    source: &str,
    now: i64,
) -> ApiResult<()> {
    let options = serde_json::to_string(&r.build.options).map_err(ApiError::internal)?;
    let done = sqlx::query(
        "UPDATE vehicles SET model_code = $1, trim_code = $2, options = $3, build_key = $4, \
         store_code = $5, stage = $6, arrival_date = $7, holding_cost_per_month = $8, \
         source = $9, external_ref = $10, version = version + 1, updated_at = $11 \
         WHERE tenant_id = $12 AND vin = $13 AND version = $14",
    )
    .bind(&r.build.model)
    .bind(&r.build.trim)
    .bind(options)
    .bind(&r.build.key)
    .bind(&r.store)
    .bind(&r.stage)
    .bind(r.arrival_date.as_deref())
    .bind(r.holding_cost_per_month)
    .bind(source)
    .bind(r.external_ref.as_deref())
    .bind(now)
    .bind(tenant_id)
    .bind(&r.vin)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if done != 1 {
        // Cannot happen while the tenant lock is held; a retry re-reads the vehicle.
        return Err(ApiError::Unavailable(format!(
            "vehicle {} changed while this upload was being imported; send it again",
            r.vin
        )));
    }
    Ok(())
}

/// Seeds stock without a caller's scope (the demo): the items of `upload` whose VIN is not
/// stored yet, through the same checks and writes as an import, in one transaction (audited,
/// not announced: seed data is no event for integrators). Vehicles already stored (perhaps
/// reserved or delivered by an order since) are left alone.
pub async fn seed(
    state: &crate::state::AppState,
    s: &Snapshot,
    mut upload: Upload,
    actor: &str,
) -> ApiResult<Counts> {
    let tenant_id = s.tenant.id.as_str();
    let vins: Vec<String> = upload
        .items
        .iter()
        .filter_map(|(_, item)| item.vin.as_deref())
        .filter_map(|v| Vin::parse(v).ok())
        .map(Vin::into_string)
        .collect();
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let refs: Vec<&str> = vins.iter().map(String::as_str).collect();
    // A plain read (no row locks: `apply` locks what it writes).
    let stored = existing(&mut tx, Backend::Sqlite, tenant_id, &refs).await?;
    tx.commit().await?;
    upload.items.retain(|(_, item)| {
        let vin = item.vin.as_deref().and_then(|v| Vin::parse(v).ok());
        !vin.is_some_and(|v| stored.contains_key(v.as_str()))
    });
    let anyone = |_: &str, _: &str| true;
    let mut tx = state.db.tenant_tx(tenant_id).await?;
    let counts = apply(
        &mut tx,
        state.db.backend,
        s,
        &upload,
        &anyone,
        actor,
        false,
        super::today(s),
        crate::store::now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(errors: &[LocatedError]) -> Vec<(Option<u64>, Option<String>, String)> {
        errors
            .iter()
            .map(|e| (e.line, e.column.clone(), e.code.clone()))
            .collect()
    }

    fn upload_errors(err: ApiError) -> Vec<LocatedError> {
        match err {
            ApiError::Upload { errors, .. } => errors,
            other => panic!("not an upload error: {other:?}"),
        }
    }

    #[test]
    fn csv_header_must_name_every_column_once() {
        let err =
            parse_csv(b"vin,model,trim,options,store,stage,arrival_date,colour,vin\n").unwrap_err();
        let errors = upload_errors(err);
        assert_eq!(
            codes(&errors),
            vec![
                (Some(1), Some("colour".into()), "unknown_column".into()),
                (Some(1), Some("vin".into()), "duplicate_column".into()),
                (
                    Some(1),
                    Some("holding_cost_per_month".into()),
                    "missing_column".into()
                ),
                (
                    Some(1),
                    Some("external_ref".into()),
                    "missing_column".into()
                ),
            ]
        );
        assert_eq!(
            codes(&upload_errors(parse_csv(b"").unwrap_err())),
            vec![(Some(1), None, "missing_header".into())]
        );
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_across_blank_lines_and_quotes() {
        let text = "\u{feff}VIN,Model,trim,options,store,stage,arrival_date,holding_cost_per_month,external_ref\n\
                    \n\
                    1M8GDM9AXKP042788,s7,s7-pro,\"a|b\",sh01,in_stock,2026-11-01,100,\n\
                    \r\n\
                    11111111111111111,s7,s7-pro,,sh01,in_transit,,x,R-1\n\
                    1,2\n";
        // Row problems are kept with the upload (to be reported with every other problem).
        let upload = parse_csv(text.as_bytes()).unwrap();
        assert_eq!(upload.items.len(), 2);
        assert_eq!(
            codes(&upload.errors),
            vec![
                (
                    Some(5),
                    Some("holding_cost_per_month".into()),
                    "invalid_amount".into()
                ),
                (Some(6), None, "wrong_field_count".into()),
            ]
        );
        let ok =
            "vin,model,trim,options,store,stage,arrival_date,holding_cost_per_month,external_ref\n\
                  \n\
                  1M8GDM9AXKP042788,s7,s7-pro, a | b ,sh01,in_stock,2026-11-01,100,\n";
        let upload = parse_csv(ok.as_bytes()).unwrap();
        assert_eq!(upload.items.len(), 1);
        let (origin, item) = &upload.items[0];
        assert_eq!(*origin, Origin::Line(3));
        assert_eq!(
            item.options.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(item.external_ref, None);
        assert_eq!(item.holding_cost_per_month, Some(100));
    }

    #[test]
    fn csv_that_is_not_utf8_is_located() {
        let mut bytes = b"vin,model\nabc\n".to_vec();
        bytes.extend_from_slice(&[0xB3, 0xB5, b'\n']);
        let errors = upload_errors(parse_csv(&bytes).unwrap_err());
        assert_eq!(
            codes(&errors),
            vec![(Some(3), None, "invalid_encoding".into())]
        );
    }

    #[test]
    fn too_many_rows_is_413_naming_the_limit() {
        let mut text = CSV_COLUMNS.join(",");
        text.push('\n');
        for _ in 0..=MAX_VEHICLES {
            text.push_str("x,s7,t,,s,in_stock,,0,\n");
        }
        let err = parse_csv(text.as_bytes()).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.code(), "too_many_vehicles");
        match err {
            ApiError::Upload { detail, .. } => {
                assert!(
                    detail.contains("5000") && detail.contains("5001"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sync_shape_problems_are_all_reported_with_pointers() {
        let body = json!({
            "vehicles": [
                { "vin": 5, "model": "s7", "trim": "s7-pro", "store": "sh01", "stage": "in_stock",
                  "holding_cost_per_month": 1.5, "colour": "red", "options": ["a", 3] },
                "not an object",
                { "model": "s7", "trim": "s7-pro", "store": "sh01", "stage": "in_stock",
                  "holding_cost_per_month": 0, "arrival_date": null }
            ],
            "extra": true
        });
        let upload = parse_sync(body.to_string().as_bytes()).unwrap();
        let got: Vec<(String, String)> = upload
            .errors
            .iter()
            .map(|e| (e.pointer.clone().unwrap(), e.code.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/extra".to_string(), "unknown_field".to_string()),
                ("/vehicles/0/colour".into(), "unknown_field".into()),
                ("/vehicles/0/vin".into(), "invalid_type".into()),
                ("/vehicles/0/options/1".into(), "invalid_type".into()),
                (
                    "/vehicles/0/holding_cost_per_month".into(),
                    "invalid_amount".into()
                ),
                ("/vehicles/1".into(), "invalid_body".into()),
                ("/vehicles/2/vin".into(), "missing_value".into()),
            ]
        );
        assert_eq!(upload.items.len(), 2);
    }
}

//! A vehicle's build by VIN, for order handlers — looked up together: the lookups that arrive
//! while one batch is being read wait and go in the next, one statement per tenant whatever
//! their number.
//!
//! An order for a named vehicle needs its build (model, trim, options) to price it before it
//! goes to the order desk. Read one by one, each lookup took a pooled connection, a statement
//! and the pool's test of the connection coming back: on SQLite three hand-offs to a
//! connection's thread and back, on PostgreSQL three round trips — per order, under a launch
//! day's load.
//!
//! **Invariants**
//! - Every lookup gets exactly its own answer: the build stored for (tenant, VIN) when the
//!   batch was read, `None` when there is none, or the batch's database error.
//! - A batch reads one tenant's vehicles per statement, with that tenant fixed (row-level
//!   security on PostgreSQL); a VIN of one tenant never answers another's lookup.
//! - One batch is read at a time; while it is read, lookups gather for the next one. An idle
//!   server reads a lone lookup at once.

use std::collections::HashMap;
use std::sync::OnceLock;

use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::store::rows::json_list;
use crate::store::{Backend, Db};

/// Most lookups in one batch.
pub const MAX_BATCH: usize = 512;
/// Lookups waiting before new ones are refused (the caller answers 503).
const QUEUE: usize = 8192;

/// What an order needs of a vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleBuild {
    pub model_code: String,
    pub trim_code: String,
    /// The selected option codes, as stored (a JSON list).
    pub options: String,
}

/// Why a lookup has no answer.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("too many vehicle lookups are waiting")]
    Busy,
    #[error("the vehicle lookup stopped before answering")]
    Stopped,
    #[error("reading vehicles: {0}")]
    Db(String),
}

type Answer = Result<Option<VehicleBuild>, LookupError>;

struct Ask {
    tenant_id: String,
    vin: String,
    reply: oneshot::Sender<Answer>,
}

/// Gathers vehicle lookups. Lives in the application state; its task starts on first use and
/// ends when the state is dropped.
#[derive(Default)]
pub struct VehicleBuilds {
    queue: OnceLock<mpsc::Sender<Ask>>,
}

impl VehicleBuilds {
    /// The build of `vin` in `tenant_id`'s stock, `None` if the tenant has no such vehicle.
    pub async fn get(&self, db: &Db, tenant_id: &str, vin: &str) -> Answer {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(gather(db.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .try_send(Ask {
                tenant_id: tenant_id.to_string(),
                vin: vin.to_string(),
                reply,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => LookupError::Busy,
                mpsc::error::TrySendError::Closed(_) => LookupError::Stopped,
            })?;
        answer.await.map_err(|_| LookupError::Stopped)?
    }
}

/// Takes what waits (up to [`MAX_BATCH`]) and reads it, one batch at a time: the lookups that
/// arrive while it reads wait for the next read, so they gather under load (the order benchmark
/// on PostgreSQL: 2,983 orders/s on average against 2,283 reading each order's vehicle on its
/// own; four readers at once hardly gathered, docs/BENCHMARKS.md). A read is a handful of key
/// probes, shorter than what the order desk does after it.
async fn gather(db: Db, mut queue: mpsc::Receiver<Ask>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        answer(&db, batch).await;
    }
}

/// Reads `batch`, tenant by tenant, and answers every lookup.
async fn answer(db: &Db, batch: Vec<Ask>) {
    let mut by_tenant: HashMap<String, Vec<Ask>> = HashMap::new();
    for ask in batch {
        by_tenant
            .entry(ask.tenant_id.clone())
            .or_default()
            .push(ask);
    }
    for (tenant_id, asks) in by_tenant {
        let vins: Vec<&str> = asks.iter().map(|a| a.vin.as_str()).collect();
        match read(db, &tenant_id, &vins).await {
            Ok(found) => {
                for ask in asks {
                    // `get`, not `remove`: two orders of a batch may name the same vehicle.
                    let _ = ask.reply.send(Ok(found.get(&ask.vin).cloned()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading vehicles for orders failed");
                for ask in asks {
                    let _ = ask.reply.send(Err(LookupError::Db(e.to_string())));
                }
            }
        }
    }
}

/// One statement: the builds of `vins` (a JSON list, one probe by key each) in `tenant_id`'s
/// stock. On PostgreSQL `forecourt_vehicle_builds` fixes the tenant for its own statement and
/// reads under row-level security.
async fn read(
    db: &Db,
    tenant_id: &str,
    vins: &[&str],
) -> Result<HashMap<String, VehicleBuild>, sqlx::Error> {
    let sql = match db.backend {
        Backend::Sqlite => {
            // CROSS JOIN keeps the list outside: a plain join was planned as a walk of the
            // tenant's vehicles with the list inside.
            "SELECT v.vin, v.model_code, v.trim_code, v.options \
             FROM json_each($2) AS k CROSS JOIN vehicles v \
             WHERE v.tenant_id = $1 AND v.vin = k.value"
        }
        Backend::Postgres => {
            "SELECT vin, model_code, trim_code, options FROM forecourt_vehicle_builds($1, $2::json)"
        }
    };
    let rows = sqlx::query(sql)
        .bind(tenant_id)
        .bind(json_list(vins)?)
        .fetch_all(&db.pool)
        .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        found.insert(
            row.try_get("vin")?,
            VehicleBuild {
                model_code: row.try_get("model_code")?,
                trim_code: row.try_get("trim_code")?,
                options: row.try_get("options")?,
            },
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A lookup made after the reader stopped (its runtime shut down, as when a server stops)
    /// is told so, not that too many lookups are waiting.
    #[test]
    fn a_lookup_after_the_reader_stopped_is_told_it_stopped() {
        let path = std::env::temp_dir().join(format!("fc-builds-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let builds = VehicleBuilds::default();
        let first = runtime();
        let db = first.block_on(Db::connect(&url, 2)).unwrap();
        // The reader starts with the first lookup, on this runtime …
        let found = first.block_on(builds.get(&db, "no-tenant", "LAR3M1E10TS040086"));
        assert!(matches!(found, Ok(None)), "{found:?}");
        // … and stops with it.
        drop(first);
        let second = runtime();
        let refused = second.block_on(builds.get(&db, "no-tenant", "LAR3M1E10TS040086"));
        assert!(matches!(refused, Err(LookupError::Stopped)), "{refused:?}");
        drop(second);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

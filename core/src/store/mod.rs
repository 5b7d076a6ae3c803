//! Storage: the sqlx connection pool over SQLite or PostgreSQL, migrations, and tenant-scoped
//! transactions.
//!
//! **Owns** how Forecourt talks to its database. The same SQL (with `$1` placeholders) runs on
//! both backends through sqlx's `Any` driver; the two migration folders (`migrations/sqlite`,
//! `migrations/postgres`) give the same tables the same meaning.
//!
//! **Invariants**
//! - Every query that touches a tenant's rows runs inside a [`TenantTx`], which on PostgreSQL sets
//!   `forecourt.tenant_id` for that transaction only (`set_config(…, true)`) so row-level
//!   security is a second wall behind the application's own `WHERE tenant_id = $1`.
//! - On PostgreSQL the application runs as the role `forecourt_app`, which owns no table, so
//!   row-level security applies to it (the connecting role runs migrations, then every pooled
//!   connection switches role).
//! - SQLite runs in WAL mode with `synchronous=FULL` and foreign keys on: an acknowledged write
//!   survives a crash. The one exception is [`Db::relaxed_tx`] (outbox bookkeeping whose loss
//!   only means one more delivery), which commits without waiting for the disk.
//! - Times are stored as UTC milliseconds since the Unix epoch (`BIGINT`), ids as UUIDv7 text.

pub mod rows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// The SQL backend behind a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The role the service runs as on PostgreSQL; it owns no table, so RLS applies to it.
pub const PG_APP_ROLE: &str = "forecourt_app";

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The database handle shared by every request: a pool plus the backend it speaks.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite's write lock, taken in turn: writers of this process queue here (first come,
    /// first served) instead of polling the lock with the busy timeout's growing sleeps,
    /// which let a frequent writer starve the others for seconds.
    write_gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// SQLite: the one connection every gated write transaction runs on, durable or relaxed
    /// (each sets `synchronous` before its `BEGIN`). The gate lets one writer in at a time
    /// anyway, and a connection keeps its page cache only while no other connection writes:
    /// taking the next idle connection of the pool for each write started nearly every batch
    /// of orders on a cold cache, re-reading its pages from the write-ahead log.
    writer: Option<AnyPool>,
}

/// Current time as UTC milliseconds since the Unix epoch, the storage format of every timestamp.
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Today's date (UTC): the day availability, offers and quotes are judged by.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// A date as `YYYY-MM-DD`.
pub fn iso_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// Formats a stored timestamp as RFC 3339 for API responses.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

impl Db {
    /// Connects, runs pending migrations (as the connecting role) and returns the pool the
    /// service uses. `max_connections` bounds the pool.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = normalise_sqlite_url(url, backend);
        Self::migrate_url(&url, backend).await?;
        Self::pools(&url, backend, max_connections).await
    }

    /// Opens a database another process serves, as it is: no migration runs, so a tool built
    /// from another revision (the load generator) cannot change the schema under a running
    /// server.
    pub async fn attach(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = normalise_sqlite_url(url, backend);
        Self::pools(&url, backend, max_connections).await
    }

    async fn pools(url: &str, backend: Backend, max_connections: u32) -> Result<Db, StoreError> {
        let options = AnyConnectOptions::from_str(url)?;
        let pool = Self::open(&options, backend, max_connections).await?;
        let writer = match backend {
            Backend::Sqlite => Some(Self::open(&options, backend, 1).await?),
            Backend::Postgres => None,
        };
        Ok(Db {
            pool,
            backend,
            write_gate: Default::default(),
            writer,
        })
    }

    /// A pool of at most `max_connections`; SQLite connections commit with
    /// `synchronous = FULL` ([`Db::relaxed_tx`] relaxes it for its own transaction). SQLite
    /// reads pages through its page cache, not a memory map: each connection mapped the file on
    /// its own and again as it grew, and the order benchmark was no faster with the map
    /// (docs/BENCHMARKS.md).
    async fn open(
        options: &AnyConnectOptions,
        backend: Backend,
        max_connections: u32,
    ) -> Result<AnyPool, StoreError> {
        Ok(AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            conn.execute(
                                format!(
                                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                                     PRAGMA cache_size = -32768; \
                                     PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES};"
                                )
                                .as_str(),
                            )
                            .await?;
                        }
                        Backend::Postgres => {
                            conn.execute("SET ROLE forecourt_app").await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await?)
    }

    /// Runs pending migrations on the database at `url` without keeping a pool.
    pub async fn migrate(url: &str) -> Result<Backend, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        Self::migrate_url(&normalise_sqlite_url(url, backend), backend).await?;
        Ok(backend)
    }

    async fn migrate_url(url: &str, backend: Backend) -> Result<(), StoreError> {
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&pool).await?,
            Backend::Postgres => {
                // The application role is cluster-wide; create it once, owning nothing.
                pool.execute(
                    "DO $$ BEGIN \
                       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'forecourt_app') THEN \
                         CREATE ROLE forecourt_app NOLOGIN NOSUPERUSER NOBYPASSRLS; \
                       END IF; \
                     END $$;",
                )
                .await?;
                pool.execute("GRANT forecourt_app TO CURRENT_USER")
                    .await
                    .ok();
                POSTGRES_MIGRATOR.run(&pool).await?;
                pool.execute(
                    "GRANT USAGE ON SCHEMA public TO forecourt_app; \
                     GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO forecourt_app; \
                     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO forecourt_app; \
                     REVOKE ALL ON _sqlx_migrations FROM forecourt_app;",
                )
                .await?;
            }
        }
        pool.close().await;
        Ok(())
    }

    /// Starts a transaction bound to one tenant. On PostgreSQL the tenant is set for the
    /// transaction only, so row-level security filters every statement in it.
    pub async fn tenant_tx(&self, tenant_id: &str) -> Result<TenantTx, sqlx::Error> {
        let mut tx = TenantTx {
            inner: self.pool.begin().await?,
            _gate: None,
        };
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('forecourt.tenant_id', $1, true)")
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// A tenant transaction that will write after reading: on SQLite it takes the write lock
    /// at `BEGIN IMMEDIATE` (after its turn at the write gate), so it waits for other writers
    /// instead of failing with "database is locked" when it upgrades a read snapshot another
    /// writer made stale.
    pub async fn write_tx(&self, tenant_id: &str) -> Result<TenantTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.immediate().await,
            Backend::Postgres => self.tenant_tx(tenant_id).await,
        }
    }

    /// A transaction not bound to one tenant (the order writer sets the tenant per order on
    /// PostgreSQL); on SQLite it takes the write lock at once, like [`Db::write_tx`].
    pub async fn batch_tx(&self) -> Result<TenantTx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.immediate().await,
            Backend::Postgres => Ok(TenantTx {
                inner: self.pool.begin().await?,
                _gate: None,
            }),
        }
    }

    /// A write transaction not bound to one tenant whose loss in a crash only repeats work:
    /// the outbox relay's claims and settlements (delivery is at-least-once, so a claim or a
    /// "delivered" mark lost with the last moments before a crash means one more delivery).
    /// It commits without waiting for the disk — SQLite: on the writer connection with
    /// `synchronous = NORMAL` for this transaction (its WAL frames reach the disk with the next durable commit or
    /// checkpoint, which sync the whole log); PostgreSQL: `synchronous_commit = off` for this
    /// transaction. Atomicity and every other writer's durability are unchanged.
    pub async fn relaxed_tx(&self) -> Result<TenantTx, sqlx::Error> {
        match &self.writer {
            Some(writer) => self.immediate_on(writer, RELAXED_BEGIN).await,
            None => {
                let mut tx = self.batch_tx().await?;
                sqlx::query("SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// SQLite: the write gate, then `BEGIN IMMEDIATE` on the writer connection; the gate opens
    /// when the transaction ends.
    async fn immediate(&self) -> Result<TenantTx, sqlx::Error> {
        self.immediate_on(self.writer.as_ref().unwrap_or(&self.pool), DURABLE_BEGIN)
            .await
    }

    async fn immediate_on(
        &self,
        pool: &AnyPool,
        begin: &'static str,
    ) -> Result<TenantTx, sqlx::Error> {
        let gate = self.write_gate.clone().lock_owned().await;
        Ok(TenantTx {
            inner: pool.begin_with(begin).await?,
            _gate: Some(gate),
        })
    }

    /// A read-only transaction not bound to one tenant, for the background workers' scans
    /// (with [`crate::outbox::scan_mode`]): it takes no write lock, so polling an idle
    /// queue never makes the order writer wait.
    pub async fn scan_tx(&self) -> Result<TenantTx, sqlx::Error> {
        Ok(TenantTx {
            inner: self.pool.begin().await?,
            _gate: None,
        })
    }

    /// Fixes the tenant of a [`Db::batch_tx`] for what follows (PostgreSQL's row-level
    /// security; nothing to do on SQLite). A batch spanning tenants calls it per tenant.
    pub async fn set_tenant(&self, tx: &mut TenantTx, tenant_id: &str) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT set_config('forecourt.tenant_id', $1, true)")
                .bind(tenant_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Spawns a task that writes through the write gate: on SQLite on the writers' thread
    /// ([`writers_runtime`]), on PostgreSQL on the caller's runtime. Dropping the handle does
    /// not stop the task; abort it.
    pub fn spawn_writer<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.writers() {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        }
    }

    /// Runs `work` — a short write transaction — where [`Db::spawn_writer`] puts writers and
    /// waits for its result: on SQLite on the writers' thread, so the transaction is not queued
    /// behind request tasks while it holds the write lock; on PostgreSQL right here. A task
    /// that only reads or waits on something else does its own part on its own runtime and
    /// hands only its writes over.
    pub async fn on_writers<F>(&self, work: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.writers() {
            Some(runtime) => match runtime.spawn(work).await {
                Ok(out) => out,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // The writers' runtime lives as long as the process and never cancels.
                Err(e) => panic!("the writers' thread dropped a transaction: {e}"),
            },
            None => work.await,
        }
    }

    /// The writers' runtime for this database: SQLite's ([`writers_runtime`]); none on
    /// PostgreSQL, whose writers stay on the caller's runtime.
    fn writers(&self) -> Option<&'static tokio::runtime::Handle> {
        match self.backend {
            Backend::Sqlite => writers_runtime(),
            Backend::Postgres => None,
        }
    }
}

/// SQLite: the runtime of the tasks that take the write gate in the background — the order
/// writer, the timer scheduler, the refund worker, and the outbox relay's write transactions
/// ([`Db::on_writers`]) — one thread of its own with a single-threaded runtime, started on first
/// use and kept for the life of the process.
///
/// SQLite has one write lock, so these tasks are the order path's serial part, and each of their
/// transactions is a dozen statements, every one a hand-off to the connection's thread and back.
/// On the shared runtime each hand-off back queued the task behind the request tasks of the
/// HTTP side (hundreds under load) while it held the write lock: the order writer's chain was
/// on a core for about a third of its time, with the machine a quarter idle, and every other
/// writer waited behind it for the lock. Here they are woken at once. `None` if the thread
/// could not start (the caller's runtime is used then).
fn writers_runtime() -> Option<&'static tokio::runtime::Handle> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Handle>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let started = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    let handle = runtime.handle().clone();
                    std::thread::Builder::new()
                        .name("db-writers".into())
                        .spawn(move || runtime.block_on(std::future::pending::<()>()))
                        .map(|_| handle)
                });
            started
                .map_err(|e| tracing::error!(error = %e, "the writers' thread could not start"))
                .ok()
        })
        .as_ref()
}

/// SQLite: how a durable write transaction starts. `synchronous` is set every time, so a
/// relaxed transaction before it on the same connection can never leave it relaxed.
const DURABLE_BEGIN: &str = "PRAGMA synchronous = FULL; BEGIN IMMEDIATE";
/// SQLite: how a [`Db::relaxed_tx`] starts (the next durable one sets `FULL` again).
const RELAXED_BEGIN: &str = "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE";

/// SQLite: the write-ahead log is copied into the database file by [`run_checkpoints`], off
/// the writers' path; a committing writer checkpoints only when the log passes this many pages
/// (64 MiB), a safety net should the background pass fall behind.
const AUTOCHECKPOINT_PAGES: u32 = 16384;

/// SQLite: checkpoints the write-ahead log every `every` (a passive checkpoint: it copies what
/// no reader still needs and never blocks a writer). Left to SQLite's automatic checkpoint,
/// the commit that crosses the threshold copies and syncs the pages itself, and the order
/// writer's commit — every order of its batch waiting on it — paid for it about twice a second
/// under load. Returns at once on PostgreSQL.
pub async fn run_checkpoints(db: Db, every: Duration) {
    if db.backend != Backend::Sqlite {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&db.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// A transaction in which the tenant is fixed; commit or drop (rolls back). It derefs to the
/// connection, so `&mut *tx` is what queries execute on.
pub struct TenantTx {
    inner: sqlx::Transaction<'static, sqlx::Any>,
    /// SQLite writers: this process's turn at the write lock, held until the end.
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl TenantTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }

    /// The database behind this transaction.
    pub fn backend(&self) -> Backend {
        if self.inner.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

impl std::ops::Deref for TenantTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.inner
    }
}

/// `sqlite://forecourt.db` → creates the file when missing (`mode=rwc`).
fn normalise_sqlite_url(url: &str, backend: Backend) -> String {
    if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_string()
    }
}

/// True when `err` is a violation of a unique or primary key.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

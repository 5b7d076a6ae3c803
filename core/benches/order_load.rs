//! The order-placement load generator: real HTTP orders against a real `forecourt` server on
//! 127.0.0.1, measuring acknowledged orders per second and latency, then checking in the
//! database that every acknowledged order is there and no vehicle is held twice.
//!
//! ```text
//! cargo build --release -p forecourt
//! cargo bench -p forecourt --bench order_load -- [--postgres] [--orders N] [--seconds S]
//!     [--concurrency C] [--url http://127.0.0.1:PORT [--database-url URL]] [--client raw|reqwest]
//! ```
//!
//! Without `--url` it starts `target/release/forecourt serve --demo` itself on a fresh database
//! (a SQLite file in a temporary directory, or a new PostgreSQL database on the server named by
//! `--postgres-server`, default `postgres://postgres@127.0.0.1:5432`) and stops it afterwards.
//! `.ci/bench-orders.sh [sqlite|postgres] [seconds]` wraps this.
//!
//! What it does: log in as a staff user with `vehicle.import`, save one build on the
//! storefront, sync one vehicle of that build per order (`POST /api/v1/vehicles/sync`, 2,000 per
//! request) so every order can succeed, then run a fixed pool of C workers, each sending orders
//! (`POST /t/{tenant}/api/v1/public/orders`, a unique `Idempotency-Key` and a unique buyer per
//! order) one after another on its own keep-alive HTTP/1.1 connection, until N orders were sent
//! or S seconds passed. About 1 % of the requests resend a key the worker already had
//! acknowledged, which must replay the first answer (`Idempotent-Replayed: true`, same order).
//!
//! **Bounds and safety**: it refuses any server or database that is not on 127.0.0.1 /
//! localhost; N is capped at [`MAX_ORDERS`], S at [`MAX_SECONDS`], C at [`MAX_CONCURRENCY`].
//!
//! Around the measured phase it prints what helps to read the figure: a baseline (`GET
//! /healthz` on the same connections for `--baseline-seconds`, the ceiling of any endpoint while
//! the generator shares the cores), the cost of one statement round trip through the server's
//! database driver, and the CPU time the generator and the server used (`/proc`). `--order-by
//! vin` names one synced vehicle per order instead of the saved build, which takes the search for
//! a matching vehicle out of the measurement.
//!
//! **The client shares the machine** with the server (on the 2-core reference machine, both
//! cores): by default it is a minimal HTTP/1.1 client on one thread (`--client raw`: one
//! request written with a single `write`, the response read by `Content-Length`), which costs
//! less CPU than a general client; `--client reqwest` uses reqwest's keep-alive pool for
//! comparison. Its CPU use is printed with the result.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::Row;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most orders one run may send.
const MAX_ORDERS: u64 = 2_000_000;
/// Longest measured phase.
const MAX_SECONDS: u64 = 600;
/// Most requests in flight.
const MAX_CONCURRENCY: usize = 4_096;
/// Vehicles per sync request (the route takes up to 5,000; 2,000 stays well under 1 MiB).
const SYNC_BATCH: u64 = 2_000;

const USAGE: &str = "order_load: the order-placement load generator (127.0.0.1 only)

cargo bench -p forecourt --bench order_load -- [options]
  --postgres                 start the server on a fresh PostgreSQL database (default: SQLite file)
  --postgres-server URL      PostgreSQL server for --postgres (default $FORECOURT_TEST_POSTGRES
                             or postgres://postgres@127.0.0.1:5432)
  --url URL                  use an already running server (http://127.0.0.1:PORT) instead
  --database-url URL         its database, for the checks after the run (with --url)
  --binary PATH              server binary (default target/release/forecourt)
  --db-pool N                server database pool size (passed to `serve --db-pool`)
  --orders N                 orders to send (default 100000, at most 2000000)
  --seconds S                stop sending after S seconds (default 60, at most 600)
  --concurrency C            requests in flight (default 256, at most 4096)
  --replay-percent P         share of requests that resend an acknowledged key (default 1)
  --baseline-seconds S       first load GET /healthz for S seconds, same client (default 3, 0: skip)
  --order-by build|vin       order the saved build (a matching vehicle is reserved; default) or
                             name one synced vehicle per order by VIN
  --client raw|reqwest       HTTP client (default raw: minimal, one thread)
  --client-threads T         client runtime threads (default 1)
  --tenant SLUG              default aurora
  --store CODE               default sh01
  --model CODE --trim CODE   the build ordered (default s7 / s7-pro)
  --email E --password P     staff user with vehicle.import (default admin@aurora.example / forecourt-demo)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Raw,
    Reqwest,
}

#[derive(Debug, Clone)]
struct Args {
    url: Option<String>,
    database_url: Option<String>,
    postgres: bool,
    postgres_server: String,
    binary: PathBuf,
    db_pool: Option<u32>,
    orders: u64,
    seconds: u64,
    concurrency: usize,
    replay_percent: u64,
    baseline_seconds: u64,
    by_vin: bool,
    client: ClientKind,
    client_threads: usize,
    tenant: String,
    store: String,
    model: String,
    trim: String,
    email: String,
    password: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn parse_args() -> Result<Args, String> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let mut a = Args {
        url: None,
        database_url: None,
        postgres: false,
        postgres_server: std::env::var("FORECOURT_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into()),
        binary: target.join("release").join("forecourt"),
        db_pool: None,
        orders: 100_000,
        seconds: 60,
        concurrency: 256,
        replay_percent: 1,
        baseline_seconds: 3,
        by_vin: false,
        client: ClientKind::Raw,
        client_threads: 1,
        tenant: "aurora".into(),
        store: "sh01".into(),
        model: "s7".into(),
        trim: "s7-pro".into(),
        email: "admin@aurora.example".into(),
        password: "forecourt-demo".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{name} takes a whole number, not `{v}`"))
        };
        match flag.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "-h" | "--help" => return Err(USAGE.into()),
            "--url" => a.url = Some(value("--url")?),
            "--database-url" => a.database_url = Some(value("--database-url")?),
            "--postgres" => a.postgres = true,
            "--postgres-server" => a.postgres_server = value("--postgres-server")?,
            "--binary" => a.binary = PathBuf::from(value("--binary")?),
            "--db-pool" => a.db_pool = Some(number("--db-pool", value("--db-pool")?)? as u32),
            "--orders" => a.orders = number("--orders", value("--orders")?)?,
            "--seconds" => a.seconds = number("--seconds", value("--seconds")?)?,
            "--concurrency" => {
                a.concurrency = number("--concurrency", value("--concurrency")?)? as usize
            }
            "--replay-percent" => {
                a.replay_percent = number("--replay-percent", value("--replay-percent")?)?
            }
            "--baseline-seconds" => {
                a.baseline_seconds = number("--baseline-seconds", value("--baseline-seconds")?)?
            }
            "--order-by" => {
                a.by_vin = match value("--order-by")?.as_str() {
                    "build" => false,
                    "vin" => true,
                    other => return Err(format!("--order-by is build or vin, not `{other}`")),
                }
            }
            "--client" => {
                a.client = match value("--client")?.as_str() {
                    "raw" => ClientKind::Raw,
                    "reqwest" => ClientKind::Reqwest,
                    other => return Err(format!("--client is raw or reqwest, not `{other}`")),
                }
            }
            "--client-threads" => {
                a.client_threads = number("--client-threads", value("--client-threads")?)? as usize
            }
            "--tenant" => a.tenant = value("--tenant")?,
            "--store" => a.store = value("--store")?,
            "--model" => a.model = value("--model")?,
            "--trim" => a.trim = value("--trim")?,
            "--email" => a.email = value("--email")?,
            "--password" => a.password = value("--password")?,
            other => return Err(format!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    if !(1..=MAX_ORDERS).contains(&a.orders) {
        return Err(format!("--orders is 1 to {MAX_ORDERS}"));
    }
    if !(1..=MAX_SECONDS).contains(&a.seconds) {
        return Err(format!("--seconds is 1 to {MAX_SECONDS}"));
    }
    if !(1..=MAX_CONCURRENCY).contains(&a.concurrency) {
        return Err(format!("--concurrency is 1 to {MAX_CONCURRENCY}"));
    }
    if a.baseline_seconds > 60 {
        return Err("--baseline-seconds is 0 to 60".into());
    }
    if a.replay_percent > 50 {
        return Err("--replay-percent is 0 to 50".into());
    }
    if !(1..=16).contains(&a.client_threads) {
        return Err("--client-threads is 1 to 16".into());
    }
    if a.url.is_some() && a.postgres {
        return Err("give --url (a running server) or --postgres (start one), not both".into());
    }
    if let Some(url) = &a.url {
        local_http(url)?;
    }
    if let Some(db) = &a.database_url {
        local_database(db)?;
    }
    if a.postgres {
        local_database(&a.postgres_server)?;
    }
    Ok(a)
}

fn is_local(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

/// `http://HOST:PORT[/]` on the loopback interface → `HOST:PORT`.
fn local_http(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--url must be http://127.0.0.1:PORT, not `{url}`"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("--url must not hold credentials: `{url}`"));
    }
    let host = match authority.rfind(':') {
        Some(i) if !authority.ends_with(']') => &authority[..i],
        _ => authority,
    };
    if !is_local(host) {
        return Err(format!(
            "refusing `{url}`: the load generator only targets 127.0.0.1 / localhost"
        ));
    }
    Ok(if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    })
}

/// A SQLite URL, or a PostgreSQL URL whose host is the loopback interface.
fn local_database(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:") {
        return Ok(());
    }
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| format!("unsupported database URL `{url}`"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.rfind(':') {
        Some(i) if !host_port.ends_with(']') => &host_port[..i],
        _ => host_port,
    };
    if is_local(host) {
        Ok(())
    } else {
        Err(format!(
            "refusing database `{host}`: the load generator only uses a database on 127.0.0.1 / localhost"
        ))
    }
}

/// A server started by the generator; killed (and its scratch directory removed) on drop.
struct StartedServer {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    /// A PostgreSQL database created for the run, dropped after the server stopped.
    pg_database: Option<(String, String)>,
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Creates a fresh PostgreSQL database on `server`; returns its URL.
async fn fresh_postgres(server: &str, name: &str) -> Result<String, String> {
    let server = server.trim_end_matches('/');
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{server}/postgres"))
        .await
        .map_err(|e| format!("connecting to PostgreSQL at {server}: {e}"))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .map_err(|e| format!("creating database {name}: {e}"))?;
    pool.close().await;
    Ok(format!("{server}/{name}"))
}

async fn drop_postgres(server: &str, name: &str) {
    let server = server.trim_end_matches('/');
    if let Ok(pool) = sqlx::AnyPool::connect(&format!("{server}/postgres")).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

async fn start_server(args: &Args) -> Result<(StartedServer, String, String), String> {
    if !args.binary.exists() {
        return Err(format!(
            "{} does not exist: build it first with `cargo build --release -p forecourt` (or pass --binary)",
            args.binary.display()
        ));
    }
    let run = uuid::Uuid::now_v7().simple().to_string();
    let dir = std::env::temp_dir().join(format!("forecourt-order-load-{run}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (db_url, pg_database) = if args.postgres {
        let name = format!("fc_bench_{run}");
        let url = fresh_postgres(&args.postgres_server, &name).await?;
        (url, Some((args.postgres_server.clone(), name)))
    } else {
        (
            format!("sqlite://{}", dir.join("orders.db").display()),
            None,
        )
    };
    let port = free_port().map_err(|e| format!("finding a free port: {e}"))?;
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("creating the log: {e}"))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("creating the log: {e}"))?;
    let mut cmd = Command::new(&args.binary);
    cmd.arg("--database-url")
        .arg(&db_url)
        .arg("serve")
        .arg("--demo")
        .arg("--examples-dir")
        .arg(workspace_root().join("examples"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        // A key of the run: personal data of the bench buyers is sealed as in production.
        .env("FORECOURT_PII_KEY", random_hex(32))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(pool) = args.db_pool {
        cmd.arg("--db-pool").arg(pool.to_string());
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", args.binary.display()))?;
    let mut server = StartedServer {
        child,
        dir,
        log,
        pg_database,
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(Some(exit)) = server.child.try_wait() {
            return Err(format!(
                "the server exited ({exit}) before it was ready; its log:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            ));
        }
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err("the server was not ready after 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((server, base, db_url))
}

/// `count` valid VINs unique to this run: WMI `LGB`, a random 5-character run tag, the check
/// digit, and an 8-digit serial.
fn vins(count: u64) -> Vec<String> {
    use rand::Rng;
    const ALLOWED: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    let tag: String = (0..5)
        .map(|_| ALLOWED[rng.gen_range(0..ALLOWED.len())] as char)
        .collect();
    (0..count)
        .map(|serial| {
            let mut chars: Vec<char> = format!("LGB{tag}0{serial:08}").chars().collect();
            chars[8] = forecourt::inventory::vin::check_digit(&chars).unwrap_or('0');
            chars.into_iter().collect()
        })
        .collect()
}

/// Logs in, saves the build, puts one vehicle of it in stock per order. Returns the build's
/// share code and the VINs synced.
async fn set_up(args: &Args, base: &str) -> Result<(String, Vec<String>), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "tenant": args.tenant, "email": args.email, "password": args.password }))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    let status = login.status();
    let body: Value = login.json().await.map_err(|e| format!("login: {e}"))?;
    let token = body["token"]
        .as_str()
        .ok_or_else(|| format!("login as {} refused ({status}): {body}", args.email))?
        .to_string();
    let saved = client
        .post(format!(
            "{base}/t/{}/api/v1/public/configurations",
            args.tenant
        ))
        .json(&json!({ "model": args.model, "trim": args.trim, "selections": [] }))
        .send()
        .await
        .map_err(|e| format!("saving the build: {e}"))?;
    let status = saved.status();
    let saved: Value = saved
        .json()
        .await
        .map_err(|e| format!("saving the build: {e}"))?;
    let code = saved["code"]
        .as_str()
        .ok_or_else(|| format!("saving the build refused ({status}): {saved}"))?
        .to_string();
    let mut options: Vec<String> = saved["resolved"]["resolved"]
        .as_object()
        .map(|m| {
            m.values()
                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    options.sort();
    options.dedup();
    let arrival = jiff::Zoned::now()
        .date()
        .checked_sub(jiff::Span::new().days(30))
        .map_err(|e| e.to_string())?
        .to_string();
    let all = vins(args.orders);
    let started = Instant::now();
    for chunk in all.chunks(SYNC_BATCH as usize) {
        let vehicles: Vec<Value> = chunk
            .iter()
            .map(|vin| {
                json!({ "vin": vin, "model": args.model, "trim": args.trim, "options": options,
                        "store": args.store, "stage": "in_stock", "arrival_date": arrival,
                        "holding_cost_per_month": 120000 })
            })
            .collect();
        let resp = client
            .post(format!("{base}/api/v1/vehicles/sync"))
            .bearer_auth(&token)
            .json(&json!({ "vehicles": vehicles }))
            .send()
            .await
            .map_err(|e| format!("syncing vehicles: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() || body["created"].as_u64() != Some(chunk.len() as u64) {
            return Err(format!("syncing vehicles refused ({status}): {body}"));
        }
    }
    println!(
        "setup: saved build {code} ({} {}), synced {} vehicles to {} in {:.1} s",
        args.model,
        args.trim,
        all.len(),
        args.store,
        started.elapsed().as_secs_f64()
    );
    Ok((code, all))
}

/// One HTTP response as the workers need it.
struct Reply {
    status: u16,
    replayed: bool,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 client on one keep-alive connection: it writes each request with one
/// `write_all` and reads the response by `Content-Length` (or chunked encoding).
struct RawConnection {
    addr: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn io_error(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

impl RawConnection {
    fn new(addr: &str) -> RawConnection {
        RawConnection {
            addr: addr.to_string(),
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn fill(&mut self) -> std::io::Result<()> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io_error("not connected"))?;
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn send(&mut self, request: &[u8]) -> std::io::Result<Reply> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.stream = None;
            self.buf.clear();
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Reply> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        self.buf.clear();
        if let Some(stream) = self.stream.as_mut() {
            stream.write_all(request).await?;
        }
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| io_error("response head is not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io_error("no status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut replayed = false;
        let mut close = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("idempotent-replayed") {
                replayed = value == "true";
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let body = if chunked {
            self.read_chunked(head_end).await?
        } else {
            let length = length.ok_or_else(|| io_error("response without a length"))?;
            while self.buf.len() < head_end + length {
                self.fill().await?;
            }
            self.buf[head_end..head_end + length].to_vec()
        };
        if close {
            self.stream = None;
        }
        Ok(Reply {
            status,
            replayed,
            body,
        })
    }

    async fn read_chunked(&mut self, mut at: usize) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf[at..], b"\r\n") {
                    break at + i;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[at..line_end])
                .map_err(|_| io_error("bad chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io_error("bad chunk size"))?;
            let data = line_end + 2;
            while self.buf.len() < data + size + 2 {
                self.fill().await?;
            }
            if size == 0 {
                // No trailers are expected; the final CRLF has been read.
                return Ok(body);
            }
            body.extend_from_slice(&self.buf[data..data + size]);
            at = data + size + 2;
        }
    }
}

/// How a worker talks to the server.
enum Transport {
    Raw {
        conn: RawConnection,
        host: String,
        path: String,
    },
    Reqwest {
        client: reqwest::Client,
        base: String,
        url: String,
    },
}

impl Transport {
    /// `GET /healthz`: the baseline (no database, no JSON work) on the same connections.
    async fn health(&mut self) -> Result<Reply, String> {
        match self {
            Transport::Raw { conn, host, .. } => {
                let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
                conn.send(request.as_bytes())
                    .await
                    .map_err(|e| e.to_string())
            }
            Transport::Reqwest { client, base, .. } => {
                let resp = client
                    .get(format!("{base}/healthz"))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
                Ok(Reply {
                    status,
                    replayed: false,
                    body,
                })
            }
        }
    }

    async fn post(&mut self, key: &str, body: &str) -> Result<Reply, String> {
        match self {
            Transport::Raw { conn, host, path } => {
                let request = format!(
                    "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
                     Idempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                conn.send(request.as_bytes())
                    .await
                    .map_err(|e| e.to_string())
            }
            Transport::Reqwest { client, url, .. } => {
                let resp = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("idempotency-key", key)
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let replayed = resp
                    .headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v == "true");
                let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
                Ok(Reply {
                    status,
                    replayed,
                    body,
                })
            }
        }
    }
}

/// An acknowledged order.
#[derive(Debug, Clone, serde::Deserialize)]
struct Placed {
    id: String,
    vin: Option<String>,
}

/// What one worker saw.
#[derive(Debug, Default)]
struct Tally {
    /// Microseconds per request, every request.
    latencies: Vec<u32>,
    created: u64,
    replayed: u64,
    replay_mismatch: u64,
    sold_out: u64,
    other: BTreeMap<u16, u64>,
    server_errors: u64,
    transport_errors: u64,
    /// Requests whose outcome is unknown (transport error): they may or may not have placed.
    in_doubt: u64,
    first_problem: Option<String>,
    placed: Vec<Placed>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.created += other.created;
        self.replayed += other.replayed;
        self.replay_mismatch += other.replay_mismatch;
        self.sold_out += other.sold_out;
        for (k, v) in other.other {
            *self.other.entry(k).or_default() += v;
        }
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.in_doubt += other.in_doubt;
        if self.first_problem.is_none() {
            self.first_problem = other.first_problem;
        }
        self.placed.extend(other.placed);
    }

    fn problem(&mut self, what: String) {
        if self.first_problem.is_none() {
            self.first_problem = Some(what);
        }
    }
}

struct Plan {
    run: String,
    code: String,
    store: String,
    orders: u64,
    deadline: Instant,
    replay_every: u64,
    next: AtomicU64,
    /// `--order-by vin`: order n names vehicle n instead of the saved build.
    vins: Option<Vec<String>>,
}

fn order_body(plan: &Plan, n: u64) -> String {
    // Every value is ASCII without quotes or backslashes (share code, VIN, store code, digits).
    if let Some(vins) = &plan.vins {
        return format!(
            r#"{{"vin":"{}","store":"{}","buyer":{{"name":"Load buyer {n}","mobile":"139{:08}"}}}}"#,
            vins[n as usize % vins.len()],
            plan.store,
            n % 100_000_000
        );
    }
    format!(
        r#"{{"configuration":"{}","store":"{}","buyer":{{"name":"Load buyer {n}","mobile":"139{:08}"}}}}"#,
        plan.code,
        plan.store,
        n % 100_000_000
    )
}

async fn worker(plan: Arc<Plan>, mut transport: Transport, seed: u64) -> Tally {
    let mut t = Tally::default();
    // The last order this worker had acknowledged: its key, body and id, for replays.
    let mut last: Option<(String, String, String)> = None;
    let mut sent: u64 = seed;
    loop {
        if Instant::now() >= plan.deadline {
            break;
        }
        sent += 1;
        let replay = plan.replay_every > 0 && sent % plan.replay_every == 0 && last.is_some();
        let (key, body, expect) = match (&last, replay) {
            (Some((k, b, id)), true) => (k.clone(), b.clone(), Some(id.clone())),
            _ => {
                let n = plan.next.fetch_add(1, Ordering::Relaxed);
                if n >= plan.orders {
                    break;
                }
                (format!("load-{}-{n}", plan.run), order_body(&plan, n), None)
            }
        };
        let started = Instant::now();
        let reply = transport.post(&key, &body).await;
        t.latencies
            .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match reply {
            Err(e) => {
                t.transport_errors += 1;
                if expect.is_none() {
                    t.in_doubt += 1;
                }
                t.problem(format!("transport: {e}"));
            }
            Ok(r) if r.status == 201 => match serde_json::from_slice::<Placed>(&r.body) {
                Ok(placed) => match expect {
                    Some(id) => {
                        t.replayed += 1;
                        if !r.replayed || placed.id != id {
                            t.replay_mismatch += 1;
                            t.problem(format!(
                                "a retried key answered order {} (replayed: {}) instead of replaying {id}",
                                placed.id, r.replayed
                            ));
                        }
                    }
                    None => {
                        t.created += 1;
                        if r.replayed {
                            t.problem(format!("a fresh key was answered as a replay: {key}"));
                        }
                        last = Some((key, body, placed.id.clone()));
                        t.placed.push(placed);
                    }
                },
                Err(e) => {
                    t.server_errors += 1;
                    t.problem(format!("a 201 without an order ({e})"));
                }
            },
            Ok(r) => {
                let text = String::from_utf8_lossy(&r.body);
                if r.status == 409 && text.contains("sold_out") {
                    t.sold_out += 1;
                } else if r.status >= 500 {
                    t.server_errors += 1;
                    t.problem(format!("{}: {text}", r.status));
                } else {
                    *t.other.entry(r.status).or_default() += 1;
                    t.problem(format!("{}: {text}", r.status));
                }
            }
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// CPU time (user + system) a process used so far, in seconds; `None` off Linux.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start after the last `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks; 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

/// Busy and total CPU time of the whole machine so far (`/proc/stat`, clock ticks).
fn machine_ticks() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

fn machine_line() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "machine: {cores} cores ({model}); the load generator runs on the same cores as the server"
    )
}

/// What the database says after the run.
struct DbCheck {
    /// Orders of the tenant now.
    total: i64,
    /// Orders added during the run.
    orders: i64,
    held: i64,
    duplicate_vins: i64,
    without_vehicle: i64,
    without_instance: i64,
    missing_acknowledged: usize,
    wrong_vin: usize,
}

/// Reads the tenant's orders, held vehicles and order workflow instances (three plain scans,
/// compared here rather than by correlated SQL, whose plan on a just-filled PostgreSQL table
/// without statistics can take minutes).
async fn check_database(
    url: &str,
    tenant: &str,
    placed: &[Placed],
    orders_before: i64,
) -> Result<DbCheck, String> {
    let (db, tenant_id) = tenant_db(url, tenant, 2).await?;
    let e = |e: sqlx::Error| e.to_string();
    let mut tx = db.tenant_tx(&tenant_id).await.map_err(e)?;
    let order_rows = sqlx::query("SELECT id, vin FROM orders WHERE tenant_id = $1")
        .bind(&tenant_id)
        .fetch_all(&mut *tx)
        .await
        .map_err(e)?;
    let vehicle_rows = sqlx::query(
        "SELECT vin, order_id, hold FROM vehicles WHERE tenant_id = $1 AND order_id IS NOT NULL",
    )
    .bind(&tenant_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(e)?;
    let instance_rows = sqlx::query(
        "SELECT subject_id FROM workflow_instances WHERE tenant_id = $1 \
         AND subject_type = 'vehicle_order'",
    )
    .bind(&tenant_id)
    .fetch_all(&mut *tx)
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)?;
    db.pool.close().await;

    let mut orders: HashMap<String, Option<String>> = HashMap::with_capacity(order_rows.len());
    for r in &order_rows {
        orders.insert(
            r.try_get("id").map_err(e)?,
            r.try_get::<Option<String>, _>("vin").map_err(e)?,
        );
    }
    // vin → the order holding it, for vehicles not free.
    let mut holder: HashMap<String, String> = HashMap::with_capacity(vehicle_rows.len());
    for r in &vehicle_rows {
        let hold: String = r.try_get("hold").map_err(e)?;
        if hold != "free" {
            holder.insert(
                r.try_get("vin").map_err(e)?,
                r.try_get("order_id").map_err(e)?,
            );
        }
    }
    let mut instances: HashSet<String> = HashSet::with_capacity(instance_rows.len());
    for r in &instance_rows {
        instances.insert(r.try_get("subject_id").map_err(e)?);
    }
    let mut seen_vins: HashMap<&str, u32> = HashMap::new();
    let (mut without_vehicle, mut without_instance) = (0, 0);
    for (id, vin) in &orders {
        if let Some(v) = vin {
            *seen_vins.entry(v.as_str()).or_default() += 1;
        }
        let holds = vin
            .as_ref()
            .is_some_and(|v| holder.get(v).is_some_and(|o| o == id));
        if !holds {
            without_vehicle += 1;
        }
        if !instances.contains(id) {
            without_instance += 1;
        }
    }
    let mut missing = 0;
    let mut wrong_vin = 0;
    for p in placed {
        match orders.get(&p.id) {
            None => missing += 1,
            Some(vin) if *vin != p.vin => wrong_vin += 1,
            Some(_) => {}
        }
    }
    let total = orders.len() as i64;
    Ok(DbCheck {
        total,
        orders: total - orders_before,
        held: holder.len() as i64,
        duplicate_vins: seen_vins.values().filter(|n| **n > 1).count() as i64,
        without_vehicle,
        without_instance,
        missing_acknowledged: missing,
        wrong_vin,
    })
}

/// The cost of one statement round trip through the server's database driver (sqlx `Any`),
/// inside a write transaction as the order writer runs them: `SELECT 1` and a small `INSERT`
/// into a temporary table, each 2,000 times, rolled back. Returns microseconds per statement.
async fn probe_round_trips(url: &str) -> Result<(f64, f64), String> {
    const N: u32 = 2_000;
    let db = forecourt::store::Db::attach(url, 1)
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    let e = |e: sqlx::Error| e.to_string();
    let mut tx = db.batch_tx().await.map_err(e)?;
    sqlx::query("CREATE TEMP TABLE fc_probe (a TEXT NOT NULL, b BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    let started = Instant::now();
    for _ in 0..N {
        sqlx::query("SELECT 1 AS one")
            .fetch_one(&mut *tx)
            .await
            .map_err(e)?;
    }
    let select = started.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    let started = Instant::now();
    for i in 0..N {
        sqlx::query("INSERT INTO fc_probe (a, b) VALUES ($1, $2)")
            .bind("probe")
            .bind(i64::from(i))
            .execute(&mut *tx)
            .await
            .map_err(e)?;
    }
    let insert = started.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    tx.rollback().await.map_err(e)?;
    db.pool.close().await;
    Ok((select, insert))
}

/// A pool of `connections` on `url` and the id of the tenant `slug`.
async fn tenant_db(
    url: &str,
    slug: &str,
    connections: u32,
) -> Result<(forecourt::store::Db, String), String> {
    let db = forecourt::store::Db::attach(url, connections)
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))?;
    let tenant_id = forecourt::tenancy::find_by_slug(&db, slug)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no tenant {slug}"))?
        .id;
    Ok((db, tenant_id))
}

async fn count_orders(url: &str, tenant: &str) -> Result<i64, String> {
    let (db, tenant_id) = tenant_db(url, tenant, 1).await?;
    let mut tx = db.tenant_tx(&tenant_id).await.map_err(|e| e.to_string())?;
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE tenant_id = $1")
        .bind(&tenant_id)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get("n"))
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    db.pool.close().await;
    Ok(n)
}

async fn run(args: Args) -> Result<bool, String> {
    let (server, base, db_url) = match &args.url {
        Some(url) => (
            None,
            url.trim_end_matches('/').to_string(),
            args.database_url.clone(),
        ),
        None => {
            let (server, base, db) = start_server(&args).await?;
            (Some(server), base, Some(db))
        }
    };
    let backend = match db_url.as_deref() {
        Some(u) if u.starts_with("sqlite:") => "SQLite",
        Some(_) => "PostgreSQL",
        None => "unknown database",
    };
    println!("{}", machine_line());
    println!(
        "server: {base} ({backend}, {}); client: {} HTTP/1.1 keep-alive, {} thread(s), {} connections",
        if server.is_some() {
            "release binary started by the generator with --demo"
        } else {
            "already running"
        },
        match args.client {
            ClientKind::Raw => "minimal",
            ClientKind::Reqwest => "reqwest",
        },
        args.client_threads,
        args.concurrency
    );
    let (code, vins) = set_up(&args, &base).await?;
    let orders_before = match &db_url {
        Some(url) => Some(count_orders(url, &args.tenant).await?),
        None => None,
    };
    if let Some(url) = &db_url {
        let (select, insert) = probe_round_trips(url).await?;
        println!(
            "database round trip through sqlx (one connection, in a transaction, server idle): SELECT 1 {select:.1} µs, small INSERT {insert:.1} µs"
        );
    }
    let addr = local_http(&base)?;
    let path = format!("/t/{}/api/v1/public/orders", args.tenant);
    let shared_client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())?;
    let mut transports: Vec<Transport> = (0..args.concurrency)
        .map(|_| match args.client {
            ClientKind::Raw => Transport::Raw {
                conn: RawConnection::new(&addr),
                host: addr.clone(),
                path: path.clone(),
            },
            ClientKind::Reqwest => Transport::Reqwest {
                client: shared_client.clone(),
                base: base.clone(),
                url: format!("{base}{path}"),
            },
        })
        .collect();
    if args.baseline_seconds > 0 {
        // The same client, connections and concurrency on an endpoint that does no work: the
        // ceiling this machine gives any endpoint while the generator shares its cores.
        let deadline = Instant::now() + Duration::from_secs(args.baseline_seconds);
        let started = Instant::now();
        let tasks: Vec<_> = transports
            .drain(..)
            .map(|mut t| {
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failed = 0u64;
                    while Instant::now() < deadline {
                        let at = Instant::now();
                        match t.health().await {
                            Ok(r) if r.status == 200 => {}
                            _ => failed += 1,
                        }
                        latencies.push(at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    (t, latencies, failed)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut failed = 0;
        for task in tasks {
            let (t, l, f) = task.await.map_err(|e| format!("a worker failed: {e}"))?;
            transports.push(t);
            all.extend(l);
            failed += f;
        }
        let elapsed = started.elapsed().as_secs_f64();
        all.sort_unstable();
        println!(
            "baseline GET /healthz, same client and connections, {:.1} s: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, failed {failed}",
            elapsed,
            all.len() as f64 / elapsed,
            percentile(&all, 50.0),
            percentile(&all, 99.0)
        );
    }
    let plan = Arc::new(Plan {
        run: uuid::Uuid::now_v7().simple().to_string(),
        code,
        store: args.store.clone(),
        orders: args.orders,
        deadline: Instant::now() + Duration::from_secs(args.seconds),
        // 1 % → every 100th request; 0 → none.
        replay_every: 100u64.checked_div(args.replay_percent).unwrap_or(0),
        next: AtomicU64::new(0),
        vins: args.by_vin.then_some(vins),
    });
    println!(
        "load: up to {} orders {} or {} s, {} in flight, {}% replays",
        args.orders,
        if args.by_vin {
            "of one named vehicle each (by VIN)"
        } else {
            "of the saved build (the server picks a matching vehicle)"
        },
        args.seconds,
        args.concurrency,
        args.replay_percent
    );
    let server_pid = server.as_ref().map(|s| s.child.id());
    let cpu_before = (cpu_seconds(None), cpu_seconds(server_pid));
    let machine_before = machine_ticks();
    let started = Instant::now();
    let tasks: Vec<_> = transports
        .into_iter()
        .enumerate()
        // Workers start their replay counters at different points so replays spread out.
        .map(|(w, t)| tokio::spawn(worker(plan.clone(), t, w as u64)))
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.map_err(|e| format!("a worker failed: {e}"))?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = (cpu_seconds(None), cpu_seconds(server_pid));
    let machine_after = machine_ticks();
    tally.latencies.sort_unstable();
    let l = &tally.latencies;
    let rate = tally.created as f64 / elapsed;
    println!();
    println!(
        "measured: {} requests in {elapsed:.2} s ({:.0} requests/s)",
        l.len(),
        l.len() as f64 / elapsed
    );
    println!(
        "orders/s: {rate:.0} (new orders acknowledged with 201 per wall second, {backend}; the generator shares the cores with the server)"
    );
    println!(
        "latency (every request, send to last byte): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        percentile(l, 100.0)
    );
    println!(
        "statuses: 201 new {}, 201 replayed {} (not a faithful replay: {}), 409 sold_out {}, other 4xx {:?}, 5xx {}, transport errors {}",
        tally.created,
        tally.replayed,
        tally.replay_mismatch,
        tally.sold_out,
        tally.other,
        tally.server_errors,
        tally.transport_errors
    );
    let share = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => format!("{:.0} % of one core", (a - b) / elapsed * 100.0),
        _ => "unknown".to_string(),
    };
    let busy = match (machine_before, machine_after) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            format!("{:.0} %", (b1 - b0) / (t1 - t0) * 100.0)
        }
        _ => "unknown".to_string(),
    };
    println!(
        "CPU during the measured phase: load generator {}, server {}; the whole machine was busy {busy} of the time (every core; includes the database server and anything else running)",
        share(cpu_before.0, cpu_after.0),
        if server_pid.is_some() {
            share(cpu_before.1, cpu_after.1)
        } else {
            "not measured (--url)".to_string()
        }
    );
    if let Some(p) = &tally.first_problem {
        println!("first problem: {p}");
    }
    let mut ok = tally.replay_mismatch == 0 && tally.first_problem.is_none();
    let mut vins = HashSet::with_capacity(tally.placed.len());
    let twice = tally
        .placed
        .iter()
        .filter_map(|p| p.vin.as_ref())
        .filter(|v| !vins.insert(v.as_str()))
        .count();
    if twice > 0 {
        ok = false;
        println!("check FAILED: {twice} VIN(s) acknowledged to two orders");
    }
    let fresh = server.is_some();
    match (&db_url, orders_before) {
        (Some(url), Some(before)) => {
            let c = check_database(url, &args.tenant, &tally.placed, before).await?;
            let expected_low = tally.created as i64;
            let expected_high = expected_low + tally.in_doubt as i64;
            let fine = (expected_low..=expected_high).contains(&c.orders)
                && c.duplicate_vins == 0
                && c.without_vehicle == 0
                && c.without_instance == 0
                && c.missing_acknowledged == 0
                && c.wrong_vin == 0
                // On a fresh database no order was cancelled: each holds its vehicle.
                && (!fresh || c.held == c.total);
            println!(
                "check {}: orders in the database +{} (acknowledged {}{}), vehicles held {}, VINs held by two orders {}, orders without their vehicle {}, without their workflow {}, acknowledged but missing {}, with another VIN {}",
                if fine { "passed" } else { "FAILED" },
                c.orders,
                tally.created,
                if tally.in_doubt > 0 {
                    format!(" + up to {} in doubt", tally.in_doubt)
                } else {
                    String::new()
                },
                c.held,
                c.duplicate_vins,
                c.without_vehicle,
                c.without_instance,
                c.missing_acknowledged,
                c.wrong_vin
            );
            ok &= fine;
        }
        _ => println!("check skipped: pass --database-url with --url to check the database"),
    }
    let bar = if backend == "SQLite" {
        10_000.0
    } else {
        5_000.0
    };
    println!(
        "bar ({backend}: ≥ {bar:.0} orders/s, p99 ≤ 50 ms): {}",
        if rate >= bar && percentile(l, 99.0) <= 50.0 {
            "met"
        } else {
            "not met"
        }
    );
    println!(
        "RESULT backend={backend} orders_per_s={rate:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} created={} replayed={} errors={} seconds={elapsed:.2} concurrency={} client={:?}",
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        percentile(l, 100.0),
        tally.created,
        tally.replayed,
        tally.server_errors + tally.transport_errors,
        args.concurrency,
        args.client
    );
    if let Some(mut s) = server {
        // Stop the server before its database is dropped.
        let _ = s.child.kill();
        let _ = s.child.wait();
        if !ok {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            println!("server log (last lines):");
            for line in tail.iter().rev() {
                println!("  {line}");
            }
        }
        if let Some((server, name)) = s.pg_database.take() {
            drop_postgres(&server, &name).await;
        }
    }
    Ok(ok)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{message}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut builder = if args.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.client_threads);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(message) => {
            eprintln!("order_load: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

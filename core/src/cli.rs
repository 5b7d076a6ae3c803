//! The command line: `serve`, `migrate`, `validate`, `apply`, `tenant`, `user`, `token`,
//! `bundle`, `script`, `workflow`.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use forecourt_tenant_config::model::TenantKind;
use forecourt_tenant_config::{BundleSource, Severity};

use crate::bundles::{self, Origin};
use crate::http::error::ApiError;
use crate::state::{AppState, Settings};
use crate::store::Db;
use crate::{auth, demo, tenancy, users};

#[derive(Parser, Debug)]
#[command(
    name = "forecourt",
    version,
    about = "Forecourt: multi-tenant car retail, configured as data"
)]
pub struct Cli {
    /// sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://forecourt.db",
        global = true
    )]
    pub database_url: String,
    /// Log format.
    #[arg(long, env = "FORECOURT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (migrations run first).
    Serve(ServeArgs),
    /// Run pending database migrations and exit.
    Migrate,
    /// Validate a bundle directory; print every problem with file:line:column and pointer.
    Validate { dir: PathBuf },
    /// Validate and apply a bundle directory to the tenant it names (a new version).
    Apply {
        dir: PathBuf,
        /// Register the tenant first if it does not exist yet.
        #[arg(long)]
        create: bool,
    },
    /// Tenants (operators).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Staff users (operators).
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for integrators (operators).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Bundle versions of a tenant.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Tenant scripts (Rhai rules).
    #[command(subcommand)]
    Script(ScriptCommand),
    /// Workflow definitions: validate, draw, simulate, publish, list, deprecate, migrate.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
}

#[derive(Subcommand, Debug)]
pub enum WorkflowCommand {
    /// Validate a definition; print every problem with file:line:column and pointer.
    Validate {
        file: PathBuf,
        /// Check role names against this bundle directory's roles.
        #[arg(long, conflicts_with = "tenant")]
        bundle: Option<PathBuf>,
        /// Check role names against this tenant's active configuration.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Print the definition as a Mermaid state diagram.
    Graph { file: PathBuf },
    /// Dry-run a definition against a file of events; print each step.
    Simulate {
        file: PathBuf,
        #[arg(long)]
        events: PathBuf,
    },
    /// Publish a definition as the next version for a tenant.
    Publish {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
    },
    /// List a tenant's workflow versions.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Deprecate a version: no new instances start on it.
    Deprecate {
        #[arg(long)]
        tenant: String,
        id: String,
        version: i64,
    },
    /// Move running instances of one version to another (all or nothing).
    Migrate {
        #[arg(long)]
        tenant: String,
        id: String,
        #[arg(long)]
        from: i64,
        #[arg(long)]
        to: i64,
        /// Map a state: `--map old=new` (repeatable).
        #[arg(long = "map")]
        map: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FORECOURT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Apply the demo tenants and users (idempotent) before serving.
    #[arg(long)]
    pub demo: bool,
    /// Where the demo tenants live (default: ./examples).
    #[arg(long)]
    pub examples_dir: Option<PathBuf>,
    /// Storefront hosts are {slug}.BASE_DOMAIN.
    #[arg(long, env = "FORECOURT_BASE_DOMAIN", default_value = "localhost")]
    pub base_domain: String,
    /// Mark cookies Secure (TLS terminates in front of Forecourt).
    #[arg(long, env = "FORECOURT_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Largest request body in bytes (bundle uploads: 16 MiB).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Database pool size.
    #[arg(long, env = "FORECOURT_DB_POOL", default_value_t = 16)]
    pub db_pool: u32,
    /// How often to check for configuration published by other nodes, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub publish_poll_ms: u64,
    /// How often to look for due workflow timers, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub timer_poll_ms: u64,
    /// File holding the master key of personal data at rest (32 raw bytes or 64 hex
    /// characters). The key may instead come from the environment variable FORECOURT_PII_KEY
    /// (64 hex characters). The demo on SQLite creates one next to the database file.
    #[arg(long, value_name = "PATH")]
    pub pii_key_file: Option<PathBuf>,
    /// Deliver text messages (buyers' sign-in codes) through the fake SMS adapter: to the log and
    /// the storefront's /dev/sms page, never to a phone. On with --demo.
    #[arg(long, env = "FORECOURT_FAKE_SMS")]
    pub fake_sms: bool,
    /// The URL this service is reached at from outside (payment return and callback links);
    /// default http://LISTEN.
    #[arg(long, env = "FORECOURT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The payment provider's API base URL (a FakePay-contract provider). Its API key and
    /// webhook secret come from FORECOURT_PAYMENTS_API_KEY and FORECOURT_PAYMENTS_WEBHOOK_SECRET.
    /// https://, or http:// to this host only.
    #[arg(long, env = "FORECOURT_PAYMENTS_URL", conflicts_with = "fake_payments",
          value_parser = forecourt_plugins::payments::http::provider_base_url)]
    pub payments_url: Option<String>,
    /// Start the local fake payment provider (FakePay) in this process and pay through it; tests
    /// and demo only, never real money. On with --demo unless --payments-url is given.
    #[arg(long)]
    pub fake_payments: bool,
    /// Where the fake payment provider listens (127.0.0.1 only; port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub fake_payments_listen: std::net::SocketAddr,
    /// How long the fake payment provider waits before it calls back about a settled payment,
    /// in milliseconds (as a real provider's word may reach the shop after the buyer does).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub fake_payments_callback_delay_ms: u64,
    /// A reverse proxy in front of this server (an address or a CIDR range; repeat, or separate
    /// with commas): for requests from it, the per-client-address limits count the address it
    /// forwards (see --forwarded-header) instead of the proxy's own. Without it the header is
    /// ignored.
    #[arg(long = "trusted-proxy", env = "FORECOURT_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::http::limits::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies write the client's address into; only this one is read.
    #[arg(
        long,
        env = "FORECOURT_FORWARDED_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: crate::http::limits::ForwardedHeader,
}

/// The payment provider of a server: a configured one, the in-process fake, or none.
async fn payment_provider(
    args: &ServeArgs,
) -> anyhow::Result<(
    Option<forecourt_plugins::payments::http::ProviderConfig>,
    Option<forecourt_plugins::payments::fake::FakePay>,
)> {
    use forecourt_plugins::payments::{fake, http::ProviderConfig};
    if let Some(url) = &args.payments_url {
        let secret = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .with_context(|| format!("--payments-url needs the environment variable {name}"))
        };
        return Ok((
            Some(ProviderConfig {
                base_url: url.trim_end_matches('/').to_string(),
                api_key: secret("FORECOURT_PAYMENTS_API_KEY")?,
                webhook_secret: secret("FORECOURT_PAYMENTS_WEBHOOK_SECRET")?,
            }),
            None,
        ));
    }
    if !(args.fake_payments || args.demo) {
        return Ok((None, None));
    }
    if !args.fake_payments_listen.ip().is_loopback() {
        bail!("the fake payment provider listens on 127.0.0.1 only");
    }
    let random = || {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    };
    let (api_key, webhook_secret) = (random(), random());
    let server = fake::FakePay::start(
        fake::FakeConfig {
            api_key: api_key.clone(),
            webhook_secret: webhook_secret.clone(),
            callback_delay: std::time::Duration::from_millis(args.fake_payments_callback_delay_ms),
        },
        args.fake_payments_listen,
    )
    .await
    .context("starting the fake payment provider")?;
    Ok((
        Some(ProviderConfig {
            base_url: server.base_url(),
            api_key,
            webhook_secret,
        }),
        Some(server),
    ))
}

/// The environment variable holding the personal-data master key (64 hex characters).
pub const PII_KEY_ENV: &str = "FORECOURT_PII_KEY";
/// The key file the demo on SQLite creates next to its database file.
pub const DEMO_KEY_FILE: &str = "forecourt-pii.key";

/// The directory of a `sqlite://PATH` database file; `None` for PostgreSQL or in-memory SQLite.
fn sqlite_dir(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    let dir = std::path::Path::new(path)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    Some(if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    })
}

fn read_key_file(path: &std::path::Path) -> anyhow::Result<crate::pii::MasterKey> {
    let raw =
        std::fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %path.display(), "the personal-data key file is readable by other users; chmod 600 it");
            }
        }
    }
    crate::pii::MasterKey::parse(&raw).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Creates the demo key file (mode 0600) unless it exists, then reads it. Two servers starting
/// at once agree on one key: the file appears whole or not at all (written aside, then linked).
fn demo_key(dir: &std::path::Path) -> anyhow::Result<(crate::pii::MasterKey, PathBuf, bool)> {
    let path = dir.join(DEMO_KEY_FILE);
    if path.exists() {
        return Ok((read_key_file(&path)?, path, false));
    }
    let aside = dir.join(format!(
        ".{DEMO_KEY_FILE}.{}",
        uuid::Uuid::now_v7().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    {
        use std::io::Write;
        let mut file = options
            .open(&aside)
            .with_context(|| format!("creating the demo key file in {}", dir.display()))?;
        file.write_all(format!("{}\n", crate::pii::MasterKey::generate().to_hex()).as_bytes())?;
        file.sync_all()?;
    }
    let linked = std::fs::hard_link(&aside, &path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok((read_key_file(&path)?, path, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok((read_key_file(&path)?, path, false))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// The master key of personal data for `serve`: FORECOURT_PII_KEY, else --pii-key-file, else
/// (demo on SQLite only) the demo key file; otherwise the server refuses to start.
fn pii_master_key(cli: &Cli, args: &ServeArgs) -> anyhow::Result<crate::pii::MasterKey> {
    let from_env = std::env::var(PII_KEY_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    match (from_env, &args.pii_key_file) {
        (Some(_), Some(file)) => bail!(
            "both {PII_KEY_ENV} and --pii-key-file {} give a personal-data key; give one",
            file.display()
        ),
        (Some(hex_key), None) => {
            let key = hex_key.trim();
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("{PII_KEY_ENV} must be 64 hex characters (32 bytes); it has {} characters", key.len());
            }
            crate::pii::MasterKey::parse(key.as_bytes()).map_err(|e| anyhow::anyhow!("{PII_KEY_ENV}: {e}"))
        }
        (None, Some(file)) => read_key_file(file),
        (None, None) => match (args.demo, sqlite_dir(&cli.database_url)) {
            (true, Some(dir)) => {
                let (key, path, created) = demo_key(&dir)?;
                println!(
                    "personal data: demo key {} {}",
                    if created { "created in" } else { "read from" },
                    path.display()
                );
                Ok(key)
            }
            _ => bail!(
                "no key for personal data at rest: set {PII_KEY_ENV} to 64 hex characters or pass                  --pii-key-file PATH (32 raw bytes or 64 hex characters); keep the same key for every                  node and every restart, or the sealed names and numbers cannot be read.                  (Only `serve --demo` on SQLite makes its own, next to the database file.)                  Generate one with: openssl rand -hex 32"
            ),
        },
    }
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Register a tenant.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long, value_parser = parse_kind)]
        kind: TenantKind,
        #[arg(long)]
        name: String,
    },
    /// List tenants.
    List,
}

fn parse_kind(s: &str) -> Result<TenantKind, String> {
    match s {
        "oem" => Ok(TenantKind::Oem),
        "dealer_group" => Ok(TenantKind::DealerGroup),
        _ => Err("kind is `oem` or `dealer_group`".into()),
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a staff user. The password is read from standard input (one line) unless
    /// --no-password makes a token-only service account.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// A role from tenant.yaml (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Store, dealer group or region code (omit for tenant level).
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        no_password: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token acting as a user, limited to the given scopes. Prints it once.
    Create {
        #[arg(long)]
        tenant: String,
        /// Email of the user the token acts as.
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// An action or `area.*` (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// Revoke a token by id.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScriptCommand {
    /// Compile every script of a bundle directory and run its `*.test.yaml` cases.
    Test { dir: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum BundleCommand {
    /// List versions.
    Versions {
        #[arg(long)]
        tenant: String,
    },
    /// Show what changed between two versions.
    Diff {
        #[arg(long)]
        tenant: String,
        from: i64,
        to: i64,
    },
    /// Make an earlier version's content active again (as a new version).
    Rollback {
        #[arg(long)]
        tenant: String,
        version: i64,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FORECOURT_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Entry point of the binary.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

fn api(e: ApiError) -> anyhow::Error {
    match e {
        ApiError::InvalidWorkflow { diagnostics } => {
            let mut text = String::from("the workflow is not valid; nothing was published:\n");
            for d in &diagnostics {
                text.push_str(&format!("  {d}\n"));
            }
            anyhow::anyhow!(text)
        }
        ApiError::InvalidBundle { diagnostics } => {
            let mut text = String::from("the bundle is not valid; nothing was applied:\n");
            for d in &diagnostics {
                text.push_str(&format!("  {d}\n"));
            }
            anyhow::anyhow!(text)
        }
        ApiError::Invalid { detail, .. } | ApiError::Conflict { detail, .. } => {
            anyhow::anyhow!(detail)
        }
        ApiError::NotFound(what) => anyhow::anyhow!("{what} does not exist"),
        other => anyhow::anyhow!("{other:?}"),
    }
}

async fn state_for(cli: &Cli, pool: u32, settings: Settings) -> anyhow::Result<AppState> {
    let db = Db::connect(&cli.database_url, pool)
        .await
        .context("connecting to the database")?;
    Ok(AppState::new(db, settings))
}

async fn tenant_row(state: &AppState, slug: &str) -> anyhow::Result<tenancy::TenantRow> {
    tenancy::find_by_slug(&state.db, slug)
        .await?
        .with_context(|| format!("no tenant with slug `{slug}`"))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Validate { dir } => validate(dir),
        Command::Migrate => {
            let backend = Db::migrate(&cli.database_url).await?;
            println!("migrations are up to date ({})", backend.as_str());
            Ok(())
        }
        Command::Serve(args) => serve(&cli, args).await,
        Command::Apply { dir, create } => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            let source = BundleSource::from_dir(dir)
                .with_context(|| format!("reading {}", dir.display()))?;
            let bundle = forecourt_tenant_config::load(&source).map_err(|r| {
                api(ApiError::InvalidBundle {
                    diagnostics: r.diagnostics,
                })
            })?;
            let profile = &bundle.tenant().tenant;
            let tenant = match tenancy::find_by_slug(&state.db, &profile.slug).await? {
                Some(t) => t,
                None if *create => tenancy::create_for_profile(&state.db, profile).await.map_err(api)?,
                None => bail!("tenant `{}` does not exist; create it with `forecourt tenant create` or pass --create", profile.slug),
            };
            let outcome = bundles::apply(&state, &tenant, &source, "cli", Origin::Apply)
                .await
                .map_err(api)?;
            for w in &outcome.warnings {
                eprintln!("warning: {w}");
            }
            if outcome.changed {
                println!(
                    "applied {} as version {} ({})",
                    outcome.tenant, outcome.version, outcome.hash
                );
            } else {
                println!(
                    "{} is unchanged: version {} already has this content ({})",
                    outcome.tenant, outcome.version, outcome.hash
                );
            }
            Ok(())
        }
        Command::Tenant(TenantCommand::Create { slug, kind, name }) => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            let t = tenancy::create_tenant(&state.db, slug, *kind, name)
                .await
                .map_err(api)?;
            println!("created tenant {} ({}) id {}", t.slug, t.kind, t.id);
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            for t in tenancy::list_tenants(&state.db).await? {
                let v = t
                    .active_version
                    .map(|v| format!("v{v}"))
                    .unwrap_or_else(|| "not configured".into());
                println!(
                    "{:<24} {:<13} {:<8} {:<15} {}",
                    t.slug, t.kind, t.status, v, t.name
                );
            }
            Ok(())
        }
        Command::User(UserCommand::Create {
            tenant,
            email,
            name,
            roles,
            unit,
            no_password,
        }) => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            let row = tenant_row(&state, tenant).await?;
            let snapshot = state
                .snapshots
                .get(&state.db, &row.id)
                .await
                .map_err(api)?
                .context("tenant vanished")?;
            let password = if *no_password {
                None
            } else {
                let mut line = String::new();
                std::io::stdin()
                    .read_to_string(&mut line)
                    .context("reading the password from standard input")?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            };
            let new = users::NewUser {
                email: email.clone(),
                display_name: name.clone(),
                password,
                roles: roles.clone(),
                unit: unit.clone(),
            };
            let user = users::create_user(&state.db, &snapshot, &new, "cli")
                .await
                .map_err(api)?;
            println!(
                "created user {} ({}) id {}",
                user.email,
                user.roles.join(", "),
                user.id
            );
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            tenant,
            user,
            name,
            scopes,
            days,
        }) => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            let row = tenant_row(&state, tenant).await?;
            let u = users::find_user_by_email(&state.db, &row.id, user)
                .await?
                .with_context(|| format!("no user `{user}` in {tenant}"))?;
            let scopes = auth::routes::expand_scopes(scopes).map_err(api)?;
            if !(1..=365).contains(days) {
                bail!("a token lives 1 to 365 days");
            }
            let ttl = Duration::from_secs(u64::from(*days) * 86_400);
            let (minted, _) =
                auth::issue_token(&state.db, &row.id, &u.id, "api", name, Some(&scopes), ttl)
                    .await
                    .map_err(api)?;
            crate::audit::record(
                &state.db,
                &row.id,
                "cli",
                "token.create",
                &format!("token:{}", minted.id),
                serde_json::json!({ "user_id": u.id, "scopes": scopes }),
            )
            .await?;
            eprintln!(
                "token id {} for {} with scopes {}; it is shown only now:",
                minted.id,
                u.email,
                scopes.join(", ")
            );
            println!("{}", minted.token);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { tenant, id }) => {
            let state = state_for(&cli, 2, Settings::default()).await?;
            let row = tenant_row(&state, tenant).await?;
            let revoked = auth::revoke(&state, &row.id, id).await.map_err(api)?;
            if !revoked {
                bail!("no active token `{id}` in {tenant}");
            }
            crate::audit::record(
                &state.db,
                &row.id,
                "cli",
                "token.revoke",
                &format!("token:{id}"),
                serde_json::json!({}),
            )
            .await?;
            println!("revoked token {id}");
            Ok(())
        }
        Command::Bundle(cmd) => bundle_command(&cli, cmd).await,
        Command::Script(ScriptCommand::Test { dir }) => script_test(dir),
        Command::Workflow(cmd) => workflow_command(&cli, cmd).await,
    }
}

fn read_text(path: &std::path::Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > forecourt_tenant_config::LIMITS.max_file_bytes as u64 {
        bail!(
            "{} is {} bytes; a definition may be at most {} bytes",
            path.display(),
            meta.len(),
            forecourt_tenant_config::LIMITS.max_file_bytes
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn print_report(report: &forecourt_tenant_config::Report) -> anyhow::Error {
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    anyhow::anyhow!(
        "{} error(s); nothing was published",
        report.errors().count()
    )
}

/// Loads a definition file for the CLI; roles are checked when a context is given.
fn load_definition(
    file: &std::path::Path,
    roles: Option<std::collections::BTreeSet<String>>,
) -> anyhow::Result<forecourt_workflow_engine::Workflow> {
    let text = read_text(file)?;
    let name = file.display().to_string();
    let loaded = match roles {
        Some(roles) => forecourt_workflow_engine::load(
            &name,
            &text,
            &forecourt_workflow_engine::Context::with_roles(roles),
        ),
        None => forecourt_workflow_engine::load_stored(&name, &text),
    };
    loaded.map_err(|r| print_report(&r))
}

/// A state on the CLI's database and the live snapshot of the tenant `slug`.
async fn tenant_snapshot(
    cli: &Cli,
    slug: &str,
) -> anyhow::Result<(AppState, std::sync::Arc<tenancy::Snapshot>)> {
    let state = state_for(cli, 2, Settings::default()).await?;
    let row = tenant_row(&state, slug).await?;
    let snapshot = state
        .snapshots
        .get(&state.db, &row.id)
        .await
        .map_err(api)?
        .context("tenant vanished")?;
    Ok((state, snapshot))
}

async fn workflow_command(cli: &Cli, cmd: &WorkflowCommand) -> anyhow::Result<()> {
    use forecourt_workflow_engine as engine;
    match cmd {
        WorkflowCommand::Validate {
            file,
            bundle,
            tenant,
        } => {
            let roles = if let Some(dir) = bundle {
                let source = BundleSource::from_dir(dir).map_err(|r| anyhow::anyhow!("{r}"))?;
                let b =
                    forecourt_tenant_config::load(&source).map_err(|r| anyhow::anyhow!("{r}"))?;
                Some(b.tenant().roles.iter().map(|r| r.code.clone()).collect())
            } else if let Some(slug) = tenant {
                let (_, snapshot) = tenant_snapshot(cli, slug).await?;
                Some(crate::workflows::context_for(&snapshot).roles)
            } else {
                eprintln!("note: role names not checked (pass --bundle DIR or --tenant SLUG)");
                None
            };
            let wf = load_definition(file, roles)?;
            println!(
                "{}: valid workflow `{}` for `{}` ({} states, {} transitions), hash {}",
                file.display(),
                wf.id(),
                wf.subject(),
                wf.definition().states.len(),
                wf.definition().transitions.len(),
                wf.hash()
            );
            Ok(())
        }
        WorkflowCommand::Graph { file } => {
            let wf = load_definition(file, None)?;
            print!("{}", engine::mermaid(&wf));
            Ok(())
        }
        WorkflowCommand::Simulate { file, events } => {
            let wf = load_definition(file, None)?;
            let script = read_text(events)?;
            let steps = engine::simulate(&wf, &script).map_err(|e| anyhow::anyhow!("{e}"))?;
            for step in &steps {
                println!("{step}");
            }
            Ok(())
        }
        WorkflowCommand::Publish { file, tenant } => {
            let (state, snapshot) = tenant_snapshot(cli, tenant).await?;
            let text = read_text(file)?;
            let id = engine::load_stored(&file.display().to_string(), &text)
                .map_err(|r| print_report(&r))?
                .id()
                .to_string();
            let published = crate::workflows::publish(&state, &snapshot, &id, &text, "cli")
                .await
                .map_err(api)?;
            if published.changed {
                println!("published {id} v{}", published.version.version);
            } else {
                println!(
                    "unchanged: {id} v{} has this content",
                    published.version.version
                );
            }
            Ok(())
        }
        WorkflowCommand::List { tenant } => {
            let state = state_for(cli, 2, Settings::default()).await?;
            let row = tenant_row(&state, tenant).await?;
            for v in crate::workflows::list_versions(&state, &row.id, None)
                .await
                .map_err(api)?
            {
                println!(
                    "{} v{} {} subject={} running={} by {} at {} hash {}",
                    v.workflow_id,
                    v.version,
                    v.status,
                    v.subject_type,
                    v.running,
                    v.published_by,
                    crate::store::rfc3339(v.published_at),
                    v.hash
                );
            }
            Ok(())
        }
        WorkflowCommand::Deprecate {
            tenant,
            id,
            version,
        } => {
            let state = state_for(cli, 2, Settings::default()).await?;
            let row = tenant_row(&state, tenant).await?;
            crate::workflows::deprecate(&state, &row.id, id, *version, "cli")
                .await
                .map_err(api)?;
            println!("deprecated {id} v{version}");
            Ok(())
        }
        WorkflowCommand::Migrate {
            tenant,
            id,
            from,
            to,
            map,
        } => {
            let mut states = std::collections::BTreeMap::new();
            for m in map {
                let Some((old, new)) = m.split_once('=') else {
                    bail!("--map takes old=new, not `{m}`");
                };
                states.insert(old.to_string(), new.to_string());
            }
            let (state, snapshot) = tenant_snapshot(cli, tenant).await?;
            let moved =
                crate::workflows::migrate(&state, &snapshot, id, *from, *to, &states, "cli")
                    .await
                    .map_err(api)?;
            println!(
                "migrated {} instance(s) of {id} from v{from} to v{to}",
                moved.len()
            );
            Ok(())
        }
    }
}

async fn bundle_command(cli: &Cli, cmd: &BundleCommand) -> anyhow::Result<()> {
    let state = state_for(cli, 2, Settings::default()).await?;
    match cmd {
        BundleCommand::Versions { tenant } => {
            let row = tenant_row(&state, tenant).await?;
            for v in bundles::list_versions(&state, &row).await.map_err(api)? {
                let based = v
                    .based_on
                    .map(|b| format!(" (from v{b})"))
                    .unwrap_or_default();
                println!(
                    "{}v{:<4} {} {:<8}{} {} by {}",
                    if v.active { "*" } else { " " },
                    v.version,
                    &v.hash[..12.min(v.hash.len())],
                    v.origin,
                    based,
                    v.created_at,
                    v.created_by
                );
            }
        }
        BundleCommand::Diff { tenant, from, to } => {
            let row = tenant_row(&state, tenant).await?;
            let a = bundles::load_version(&state, &row, *from)
                .await
                .map_err(api)?;
            let b = bundles::load_version(&state, &row, *to)
                .await
                .map_err(api)?;
            for c in forecourt_tenant_config::diff(&a, &b) {
                println!("{}", serde_json::to_string(&c)?);
            }
        }
        BundleCommand::Rollback { tenant, version } => {
            let row = tenant_row(&state, tenant).await?;
            let o = bundles::rollback(&state, &row, *version, "cli")
                .await
                .map_err(api)?;
            println!(
                "{} now runs the content of v{version} as version {} ({})",
                o.tenant, o.version, o.hash
            );
        }
    }
    Ok(())
}

/// `forecourt script test DIR`: every hook script's cases, then every problem found.
fn script_test(dir: &std::path::Path) -> anyhow::Result<()> {
    let source =
        BundleSource::from_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    let files = source.files();
    let runtime = forecourt_plugins::ScriptRuntime::new(forecourt_plugins::suite::check_limits());
    let mut scripts = 0;
    for (path, text) in files {
        let Some(hook) = forecourt_plugins::hook_for_path(path) else {
            continue;
        };
        scripts += 1;
        let tests = files.get(&hook.test_path());
        match tests.map(|t| forecourt_plugins::run_suite(&runtime, hook, path, text, t)) {
            Some(Ok(report)) => println!("{report}"),
            Some(Err(e)) => println!("{path}: {e}"),
            None => println!("{path}: no test cases ({} is missing)", hook.test_path()),
        }
    }
    let problems = forecourt_plugins::check_bundle_scripts(files);
    for p in &problems {
        let at = match (p.line, p.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", p.file),
            _ => p.file.clone(),
        };
        eprintln!(
            "{at}: {}[{}] {}",
            if p.is_error() { "error" } else { "warning" },
            p.code,
            p.message
        );
    }
    let errors = problems.iter().filter(|p| p.is_error()).count();
    if errors > 0 {
        bail!("{errors} script problem(s) in {}", dir.display());
    }
    println!("{scripts} script(s) compiled and passed their tests");
    Ok(())
}

fn validate(dir: &std::path::Path) -> anyhow::Result<()> {
    let source =
        BundleSource::from_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    match forecourt_tenant_config::load(&source) {
        Ok(bundle) => {
            for w in bundle.warnings() {
                eprintln!("warning: {w}");
            }
            println!(
                "{} is valid: tenant {}, {} stores, {} roles, hash {}",
                dir.display(),
                bundle.tenant().tenant.slug,
                bundle.tenant().org.stores.len(),
                bundle.tenant().roles.len(),
                bundle.hash()
            );
            Ok(())
        }
        Err(report) => {
            for d in &report.diagnostics {
                let level = if d.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                eprintln!("{level}: {d}");
            }
            bail!(
                "{} error(s) in {}",
                report
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count(),
                dir.display()
            )
        }
    }
}

async fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let pii_key = pii_master_key(cli, args)?;
    let (payments, fakepay) = payment_provider(args).await?;
    let settings = Settings {
        payments,
        base_domain: args.base_domain.clone(),
        secure_cookies: args.secure_cookies,
        body_limit: args.body_limit,
        publish_poll: Duration::from_millis(args.publish_poll_ms.max(50)),
        timer_poll: Duration::from_millis(args.timer_poll_ms.max(50)),
        public_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.listen))
            .trim_end_matches('/')
            .to_string(),
        pii_key: Some(pii_key),
        fake_sms: args.fake_sms || args.demo,
        trusted_proxies: args.trusted_proxies.clone(),
        forwarded_header: args.forwarded_header,
        ..Settings::default()
    };
    let state = state_for(cli, args.db_pool, settings).await?;
    // Rows written before personal data was sealed are sealed now (once; sealed rows are skipped).
    let sealed = crate::pii::seal_legacy_rows(&state.db, &state.pii)
        .await
        .context("sealing contact details stored in plain text by an older version")?;
    if sealed > 0 {
        println!("personal data: sealed the contact details of {sealed} older row(s)");
    }
    if let Some(fake) = &fakepay {
        println!(
            "payments: fake provider (FakePay, demo only, no real money) at {}",
            fake.base_url()
        );
    }
    if state.settings.fake_sms {
        println!("text messages: fake SMS adapter (demo only): sign-in codes go to the log and {{storefront}}/dev/sms, never to a phone");
    }
    crate::http::metrics::handle();
    if args.demo {
        let dir = demo::examples_dir(args.examples_dir.as_deref());
        let tenants = demo::apply_demo(&state, &dir).await.map_err(api)?;
        println!(
            "\nDemo ready (password for every demo user: {}, demo only):",
            demo::DEMO_PASSWORD
        );
        for t in &tenants {
            println!("  tenant {} (config v{}):", t.slug, t.version);
            for (email, roles) in &t.users {
                println!("    {email:<42} {}", roles.join(", "));
            }
        }
    }
    let background = spawn_background(&state);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("\nForecourt listening on http://{addr}");
    println!("  API document:   http://{addr}/api/openapi.json");
    println!("  log in:         POST http://{addr}/api/v1/auth/login {{\"tenant\":\"aurora\",\"email\":\"admin@aurora.example\",\"password\":\"…\"}}");
    println!("  public stores:  http://{addr}/t/aurora/api/v1/public/stores");
    tracing::info!(%addr, backend = state.db.backend.as_str(), "serving");
    crate::http::serve(listener, crate::http::router(state)).await?;
    background.stop().await;
    Ok(())
}

/// The background tasks of one node; dropping this stops them, [`Background::stop`] stops them
/// and hands the outbox relay over.
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    db: crate::store::Db,
    /// This node's name in the relay lease.
    relay_holder: String,
}

impl Background {
    /// Stops every task, waits until they have stopped, then gives up the relay lease, so
    /// another node — or this one restarted — resumes delivering at once rather than when the
    /// lease runs out. What the relay delivered but had not recorded is delivered again
    /// (delivery is at-least-once).
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        match crate::outbox::release_relay(&self.db, &self.relay_holder).await {
            Ok(true) => tracing::info!("outbox relay lease handed over"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not hand the outbox relay lease over"),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The relay's adapters by kind: SMS to the SMS adapter (the fake one with `--fake-sms`; without
/// it and without a gateway, SMS messages fail with a clear reason, are retried and then
/// dead-lettered), everything else to the local inbox.
pub fn channels(state: &AppState) -> crate::outbox::Channels {
    use crate::outbox::{Channels, Deliver, Kind, LocalInbox, Unconfigured};
    use std::sync::Arc;
    let sms: Arc<dyn Deliver> = if state.settings.fake_sms {
        Arc::new(crate::buyers::sms::SmsChannel::new(
            state.db.clone(),
            state.pii.clone(),
            Arc::new(crate::buyers::sms::FakeSms::shared()),
        ))
    } else {
        Arc::new(Unconfigured {
            reason: "no SMS gateway is configured (start the server with --fake-sms for a demo)"
                .into(),
        })
    };
    Channels::new(Arc::new(LocalInbox)).route(Kind::Sms, sms)
}

/// Starts a node's background tasks: the watcher that swaps snapshots published by other
/// nodes, the workflow timer scheduler, the outbox relay and the refund worker. The scheduler
/// and the refund worker run where [`crate::store::Db::spawn_writer`] puts them (SQLite: the
/// writers' thread); the relay runs here and hands only its writes there.
pub fn spawn_background(state: &AppState) -> Background {
    let for_watch = state.clone();
    let invalidate = std::sync::Arc::new(
        move |tenant_id: &str, what: tenancy::Published| match what {
            tenancy::Published::Bundle => for_watch.snapshots.invalidate(tenant_id),
            tenancy::Published::Pages => for_watch.pages.invalidate(tenant_id),
        },
    );
    let watcher = tokio::spawn(tenancy::watch_publishes(
        state.db.clone(),
        invalidate,
        state.settings.publish_poll,
    ));
    let node = uuid::Uuid::now_v7().to_string();
    let scheduler = state.db.spawn_writer(crate::workflows::scheduler::run(
        state.clone(),
        node,
        state.settings.timer_poll,
    ));
    // The relay reads and delivers here; its two small writes per pass go to the writers'
    // thread (`Db::on_writers`).
    let relay_holder = uuid::Uuid::new_v4().to_string();
    let relay = tokio::spawn(crate::outbox::run_relay(
        state.db.clone(),
        std::sync::Arc::new(channels(state)),
        state.settings.outbox_poll,
        relay_holder.clone(),
    ));
    let refunds = state.db.spawn_writer(crate::payments::run_refunds(
        std::sync::Arc::downgrade(&state.0),
        state.settings.outbox_poll,
    ));
    let checkpoints = tokio::spawn(crate::store::run_checkpoints(
        state.db.clone(),
        std::time::Duration::from_millis(200),
    ));
    Background {
        tasks: vec![watcher, scheduler, relay, refunds, checkpoints],
        db: state.db.clone(),
        relay_holder,
    }
}

//! The command line: `serve`, `migrate`, `validate`, `apply`, `tenant`, `user`, `token`.

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
    let settings = Settings {
        base_domain: args.base_domain.clone(),
        secure_cookies: args.secure_cookies,
        body_limit: args.body_limit,
        publish_poll: Duration::from_millis(args.publish_poll_ms.max(50)),
        ..Settings::default()
    };
    let state = state_for(cli, args.db_pool, settings).await?;
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
    spawn_publish_watcher(&state);
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
    Ok(())
}

/// Starts the task that swaps snapshots published by other nodes.
pub fn spawn_publish_watcher(state: &AppState) {
    let for_watch = state.clone();
    let invalidate =
        std::sync::Arc::new(move |tenant_id: &str| for_watch.snapshots.invalidate(tenant_id));
    tokio::spawn(tenancy::watch_publishes(
        state.db.clone(),
        invalidate,
        state.settings.publish_poll,
    ));
}

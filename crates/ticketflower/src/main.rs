//! The `ticketflower` binary: a thin CLI over the app and web crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use app::infra::settings::LogFormat;
use app::{App, Secrets, Settings};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// jemalloc rather than glibc's malloc: glibc kept what each thread freed in that thread's
/// arena (up to eight per core), so a server that had been busy stayed tens of MiB larger
/// than it needed, and its arenas cost the ticket list half its throughput. jemalloc's
/// background thread returns pages unused for a second to the system (its settings are
/// compiled in: `.cargo/config.toml`; docs/performance.md, "Memory"). It is built unprefixed
/// (the workspace's `Cargo.toml`), so the SQLite linked in allocates with it too.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ticketflower",
    version,
    about = "TicketFlower: a multi-tenant service desk"
)]
struct Cli {
    /// Optional TOML configuration file (settings also come from TICKETFLOWER_* variables).
    #[arg(long, global = true, env = "TICKETFLOWER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and the job workers (the default).
    Serve {
        /// Address to listen on (overrides TICKETFLOWER_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Do not apply pending migrations on start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a platform staff account (superadmin), or reset its password.
    CreateSuperuser {
        #[arg(long)]
        email: String,
        /// The password; prefer TICKETFLOWER_SUPERUSER_PASSWORD to keep it out of shell history.
        #[arg(long, env = "TICKETFLOWER_SUPERUSER_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Load the ten default question templates for support conversations as global
    /// templates; those already loaded (by title) are left as they are.
    LoadTemplates,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ticketflower: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Serve { bind, no_migrate }) = &cli.command {
        if let Some(bind) = bind {
            settings.bind = *bind;
        }
        if *no_migrate {
            settings.migrate_on_start = false;
        }
    }
    init_tracing(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ticketflower: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("ticketflower: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&settings.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn run(command: Option<Command>, settings: Settings) -> anyhow::Result<()> {
    match command.unwrap_or(Command::Serve {
        bind: None,
        no_migrate: false,
    }) {
        Command::Serve { .. } => serve(settings).await,
        Command::Migrate => {
            let db = connect(&settings).await?;
            let applied = store::migrations::run(&db).await?;
            println!("applied {} migration(s): {applied:?}", applied.len());
            db.close().await;
            Ok(())
        }
        Command::CreateSuperuser { email, password } => {
            let app = build_app(settings).await?;
            let (user, outcome) =
                app::identity::platform::create_superuser(&app, &email, &password)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
            match outcome {
                app::identity::platform::SuperuserOutcome::Created => {
                    println!("created superuser {} ({})", user.email, user.id)
                }
                app::identity::platform::SuperuserOutcome::PasswordReset => {
                    println!("superuser {} existed; password replaced", user.email)
                }
            }
            app.db().close().await;
            Ok(())
        }
        Command::LoadTemplates => {
            let app = build_app(settings).await?;
            let added = app::templates::load_defaults(&app)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let total = app::templates::defaults().len();
            println!(
                "loaded {added} question template(s); {} were already there",
                total - added
            );
            app.db().close().await;
            Ok(())
        }
    }
}

async fn connect(settings: &Settings) -> anyhow::Result<store::Db> {
    if settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    }
    store::Db::connect(&settings.db_options())
        .await
        .with_context(|| "connecting to the database".to_string())
}

async fn build_app(settings: Settings) -> anyhow::Result<App> {
    let secrets = Secrets::load(&settings)?;
    app::infra::mail::Mailer::from_settings(&settings)?;
    app::mobile_push::Fcm::from_settings(&settings)?;
    settings.check_nats().map_err(anyhow::Error::msg)?;
    let db = connect(&settings).await?;
    if settings.migrate_on_start {
        store::migrations::run(&db)
            .await
            .context("applying migrations")?;
    }
    settings
        .retry_schedule()
        .context("reading delivery_schedule")?;
    let mut jobs = app::registry::standard();
    jobs.timeout = std::time::Duration::from_secs(settings.job_timeout_secs.max(1));
    Ok(App::new(db, settings, secrets, jobs))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let app = build_app(settings).await?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let local = listener.local_addr()?;
    let metrics = match app.settings().metrics_bind {
        Some(address) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding the metrics listener {address}"))?,
        ),
        None => None,
    };
    tracing::info!(address = %local, backend = ?app.db().backend(), "TicketFlower listening on http://{local}");
    match &metrics {
        Some(metrics) => {
            let metrics_address = metrics.local_addr()?;
            tracing::info!(%metrics_address, "metrics on http://{metrics_address}/metrics");
        }
        None => tracing::info!("metrics listener off (metrics_bind = off)"),
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    web::run(app.clone(), listener, metrics, shutdown).await?;
    app.db().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM starts a graceful shutdown.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received; finishing in-flight requests and jobs");
    shutdown.cancel();
}

//! `redline serve` (and `redline` alone): scan, follow, serve.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use redline_engine::prices::PriceTable;
use redline_engine::roots::{RootEnv, resolve_roots};

use redline_engine::live::Budget;
use redline_engine::roots::Root;

use crate::cli::ServeArgs;
use crate::config::{self, Config};
use crate::http::{AppState, app};
use crate::hub::{self, HubConfig};
use crate::{reload, replay};

/// Runs the daemon until SIGINT or SIGTERM.
pub fn run(
    args: &ServeArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    crate::memory::fixed_mmap_threshold();
    let mut cfg = config::resolve(&args.daemon, source, env)?;
    // A gRPC receiver bound beyond loopback needs the token as much as the HTTP side.
    let grpc_exposed = cfg.otlp_grpc.is_some_and(|a| !config::is_loopback(a.ip()));
    let token = if cfg.exposed() || grpc_exposed {
        Some(token(&cfg)?)
    } else {
        cfg.token.clone()
    };
    // The address first: a second daemon stops here, before it scans or touches the store.
    let listener = match std::net::TcpListener::bind(cfg.listen) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(in_use(cfg.listen)),
        Err(e) => return Err(e).with_context(|| format!("cannot listen on {}", cfg.listen)),
    };
    listener.set_nonblocking(true)?;
    // Transcripts, the store and up to 512 connections: the soft limit on open files
    // (1,024 under systemd by default) is raised to the hard one.
    crate::serving::raise_fd_limit();
    let started = std::time::Instant::now();
    let mut hub_cfg = hub_config(&cfg, env, true, args.daemon.no_index)?;
    hub_cfg.started = started;
    hub_cfg.store = Some(cfg.state_dir.join(redline_engine::store::FILE));
    let demo_dir = if args.demo {
        // The demo reads nothing of yours: a directory of its own, a budget it will not
        // exhaust (unless one was configured), and the daemon's time limits scaled to the
        // script's minute so that every lamp lights in it (see `replay`). The needles,
        // zones and lamp shares stay as configured: the demo shows your cluster.
        let dir = std::env::temp_dir().join(format!("redline-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let projects = replay::prepare(&dir)?;
        hub_cfg.roots = vec![Root {
            projects,
            explicit: true,
        }];
        if cfg.settings.budget == Budget::Max {
            hub_cfg.settings.budget = Budget::Tokens(replay::BUDGET_TOKENS);
        }
        replay::settings(&mut hub_cfg.settings, args.demo_speed);
        cfg.settings = hub_cfg.settings.clone();
        // The demo's history is its own, not kept with yours (nor indexed).
        hub_cfg.store = Some(dir.join(redline_engine::store::FILE));
        hub_cfg.index = None;
        Some(dir)
    } else {
        None
    };
    let sweep = crate::sweep::Control::new(args.sweep);
    if args.sweep {
        eprintln!(
            "redline: sweep: every needle through 0, 25, 50, 75, 100 % and back, {} s a mark, until stopped",
            redline_core::sweep::HOLD_MS / 1000
        );
    }
    hub_cfg.sweep = Some(sweep.clone());
    let roots = Arc::new(hub_cfg.roots.clone());
    let hub = hub::start(hub_cfg)?;
    if let Some(dir) = &demo_dir {
        replay::start(
            dir.join("projects"),
            hub.inputs.clone(),
            args.demo_speed,
            cfg.settings.tz.clone(),
        )?;
        eprintln!(
            "redline: demo: playing a scripted session into {} (a loop a minute{})",
            dir.display(),
            if args.demo_speed == 1.0 {
                String::new()
            } else {
                format!(", {}x faster", args.demo_speed)
            }
        );
    }
    let first = hub.snapshots.borrow().clone();
    let (page_tx, page) =
        tokio::sync::watch::channel(Arc::new(crate::web::Page::new(&cfg, status_json(&cfg))));
    // The config file, followed: a changed setting is applied while serving. Not in the
    // demo, whose time limits are its own.
    if demo_dir.is_none()
        && let Some(path) = reload::followed_file(&args.daemon, env)
    {
        let reloader = reload::Reloader {
            args: args.daemon.clone(),
            origins: reload::origins(source),
            env: env.clone(),
            current: cfg.clone(),
        };
        reload::start(reloader, path, hub.inputs.clone(), page_tx, status_json)
            .context("cannot start following the config file")?;
    }
    let grpc_sink = crate::otlp_http::grpc_sink(hub.inputs.clone());
    let stop_hub = hub.inputs.clone();
    // The [[correlate]] URLs are fetched at their intervals from the start, so their
    // rows are there when asked for.
    let correlate = crate::correlate::keeper::Keeper::new();
    correlate.poll(page.clone());
    let state = AppState {
        snapshots: hub.snapshots,
        inputs: hub.inputs,
        token: token.as_deref().map(Arc::<str>::from),
        exposed: cfg.exposed(),
        page,
        sweep,
        env: Arc::new(env.clone()),
        demo: demo_dir.is_some(),
        calibrating: Arc::new(tokio::sync::Semaphore::new(1)),
        roots,
        character: Arc::new(tokio::sync::Mutex::new(None)),
        exposure: Arc::new(crate::http::Exposure::new(
            &cfg.allowed_hosts,
            env.home.as_deref(),
        )),
        correlate,
    };
    let state_token = state.token.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let mut err = std::io::stderr();
        let _ = writeln!(
            err,
            "redline: serving http://{addr}/usage: {} files, {} responses read in {:.2} s",
            first.files_watched,
            first.stats.responses,
            started.elapsed().as_secs_f64()
        );
        if first.files_watched == 0 && demo_dir.is_none() && cfg.prometheus.is_none() {
            let roots: Vec<String> = resolve_roots(env)
                .iter()
                .map(|r| config::printable(&r.projects.display().to_string()).into_owned())
                .collect();
            let _ = writeln!(
                err,
                "redline: no Claude Code transcripts in {} yet: the values move once Claude Code writes there. Transcripts elsewhere? Set CLAUDE_CONFIG_DIR to the directory that holds projects/. To see the cluster move now: redline serve --demo",
                roots.join(", ")
            );
        }
        // The ESP32 finds an exposed daemon by mDNS; a failure there is logged, not fatal.
        let _advert = match crate::mdns::advertise(addr) {
            Ok(Some(a)) => {
                let _ = writeln!(err, "redline: advertising {} on port {} by mDNS", crate::mdns::SERVICE_TYPE, addr.port());
                Some(a)
            }
            Ok(None) => None,
            Err(e) => {
                let _ = writeln!(err, "redline: warning: {e:#}");
                None
            }
        };
        if cfg.exposed() {
            let _ = writeln!(
                err,
                "redline: listening beyond loopback: /usage, /usage/gauge, /events, /healthz and /metrics are open; everything else needs the token in {}",
                cfg.token_file().display()
            );
        }
        // On a signal, stop accepting and let requests finish; open `/events` streams
        // never finish by themselves, so they get a moment and are then dropped.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown().await;
            let _ = stop_tx.send(true);
        });
        // OTLP over gRPC on its own port. Beyond loopback it needs the token too (gRPC's
        // `authorization` metadata); on loopback it takes what comes, as /v1/* does.
        if let Some(grpc_addr) = cfg.otlp_grpc {
            let grpc_token = (!config::is_loopback(grpc_addr.ip()))
                .then(|| state_token.clone())
                .flatten();
            match tokio::net::TcpListener::bind(grpc_addr).await {
                Ok(l) => {
                    let _ = writeln!(err, "redline: OTLP over gRPC on {}", l.local_addr()?);
                    let router = crate::grpc::router(grpc_sink, grpc_token);
                    let mut stop = stop_rx.clone();
                    tokio::spawn(async move {
                        let _ = crate::grpc::serve(l, router, async move {
                            let _ = stop.changed().await;
                        })
                        .await;
                    });
                }
                // Another collector may hold 4317: OTLP over HTTP still works.
                Err(e) => {
                    let _ = writeln!(
                        err,
                        "redline: warning: OTLP over gRPC is off: cannot listen on {grpc_addr}: {e}"
                    );
                }
            }
        }
        let mut graceful = stop_rx.clone();
        let mut hard = stop_rx;
        // Header and idle timeouts and a connection cap: see `serving`.
        let server = crate::serving::serve(listener, app(state), async move {
            let _ = graceful.changed().await;
        });
        tokio::select! {
            r = server => r.context("server failed"),
            () = async move {
                let _ = hard.changed().await;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            } => Ok(()),
        }
    });
    // The hours read since the last rollup go to the store before the process ends.
    let (done_tx, done) = std::sync::mpsc::channel();
    if stop_hub.send(hub::Input::Stop(done_tx)).is_ok()
        && done
            .recv_timeout(std::time::Duration::from_secs(5))
            .is_err()
    {
        eprintln!(
            "redline: warning: the store may lack the last minutes' rollups (no answer from the hub)"
        );
    }
    if let Some(dir) = demo_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    served
}

/// What the hub needs from the configuration.
pub fn hub_config(cfg: &Config, env: &RootEnv, log: bool, no_index: bool) -> Result<HubConfig> {
    Ok(HubConfig {
        roots: resolve_roots(env),
        settings: cfg.settings.clone(),
        prices: PriceTable::bundled_with(cfg.prices.as_deref())?,
        cost_mode: cfg.cost_mode,
        log,
        store: None,
        host: config::this_host(),
        prometheus: cfg.prometheus.clone(),
        sweep: None,
        // Only the daemon counts text (for /metrics); the terminal view shows none of it.
        text: (log && cfg.text.enabled).then(|| cfg.text.watch.clone()),
        // Only the daemon reads repositories (for /metrics), and only with `[git] enabled`.
        git: (log && cfg.git.enabled).then_some(cfg.git.slack_minutes),
        index: (!no_index).then(|| crate::scan_index::cache_dir(env)),
        started: std::time::Instant::now(),
    })
}

/// The configured token, else the one kept in the state directory (a warning when others
/// may read it), else a new one that is stored there, readable by the user alone.
fn token(cfg: &Config) -> Result<String> {
    if let Some(t) = &cfg.token {
        return Ok(t.clone());
    }
    let path = cfg.token_file();
    if let Some(t) = cfg.known_token() {
        if let Some(why) = config::token_file_problem(&path) {
            eprintln!("redline: warning: {}", crate::config::printable(&why));
        }
        return Ok(t);
    }
    let t = new_token().context("cannot make a token")?;
    private_dir(&cfg.state_dir)
        .with_context(|| format!("cannot create {}", cfg.state_dir.display()))?;
    write_private(&path, &t).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "redline: generated a token for the protected endpoints: {t} (kept in {})",
        crate::config::printable(&path.display().to_string())
    );
    Ok(t)
}

/// 32 hex digits from the operating system's random source.
fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `dir` (and what is missing above it) for the user alone.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Writes `text` to `path` for the user alone, without following a link at `path`: into
/// a new file beside it (created, never opened through a link, mode 0600), then renamed
/// over it, so a file that was there, a link included, is replaced rather than written
/// through, and a crash leaves the old file or the new one.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover of a run that died here (a link is removed, not followed).
    let _ = std::fs::remove_file(&tmp);
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let written = open.open(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let done = written.and_then(|()| std::fs::rename(&tmp, path));
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done
}

/// The resolved configuration as `/api/status` shows it.
fn status_json(cfg: &Config) -> serde_json::Value {
    let values: serde_json::Map<String, serde_json::Value> = cfg
        .resolved
        .iter()
        .map(|r| {
            (
                r.key.to_owned(),
                serde_json::json!({"value": r.value, "origin": format!("{:?}", r.origin).to_lowercase()}),
            )
        })
        .collect();
    serde_json::json!({
        "file": cfg.file.as_ref().map(|p| p.display().to_string()),
        "values": values,
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Why the address is taken, and what to do: another redline answers `/healthz` there (say
/// so), or some other program holds the port.
fn in_use(listen: SocketAddr) -> String {
    let local = crate::config::local_addr(listen);
    let ours = crate::client::get(&local.to_string(), "/healthz", Duration::from_millis(500))
        .is_ok_and(|(_, body)| String::from_utf8_lossy(&body).contains("\"files_watched\""));
    let next = SocketAddr::new(listen.ip(), listen.port().wrapping_add(1).max(1));
    let who = if ours {
        format!(
            "another redline is already serving there (http://{local}/usage answers); stop it first (or `redline service uninstall` if it runs as a service)"
        )
    } else {
        "another program holds that port".to_owned()
    };
    format!(
        "cannot listen on {listen}: the address is in use: {who}, or serve on another address with --listen {next} (REDLINE_LISTEN, or `listen` in config.toml)"
    )
}

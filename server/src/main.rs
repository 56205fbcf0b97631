//! `parlor-server`: parse the command line, set up logging, call [`parlor_server::run`].

use clap::Parser;
use parlor_server::config::{Cli, Config, LogFormat};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    let drain = cli.drain.take();
    let config = match Config::load(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("parlor-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    if let Some(node) = drain {
        return match parlor_server::drain(&config, &node, |line| println!("{line}")).await {
            Ok(took) => {
                println!("{node} has left the cluster ({} ms)", took.as_millis());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("parlor-server: {e}");
                std::process::ExitCode::from(1)
            }
        };
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("parlor-server: cannot listen on {}: {e}", config.listen);
            return std::process::ExitCode::from(1);
        }
    };
    let addr = listener.local_addr().unwrap_or(config.listen);
    // Kept until the server stops: dropping it withdraws the advert.
    let _advert = if config.lan {
        match announce_lan(&config, addr) {
            Ok(advert) => advert,
            Err(e) => {
                eprintln!("parlor-server: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    } else {
        println!("Parlor is running at http://{addr}/ (Ctrl-C to stop)");
        None
    };
    match parlor_server::run(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parlor-server: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Prints where the LAN server is and its certificate's fingerprint, and advertises it over
/// mDNS (a failed advert is reported, not fatal: links still work).
fn announce_lan(
    config: &Config,
    addr: std::net::SocketAddr,
) -> Result<Option<parlor_server::lan::Advert>, String> {
    let lan = parlor_server::lan::Announced::start(config, addr)?;
    println!(
        "Parlor is hosting on this network at {}/ (Ctrl-C to stop)",
        lan.server
    );
    println!("Certificate fingerprint (SHA-256): {}", lan.fingerprint);
    if let Some(local) = &lan.local {
        println!("On this computer: {local}/");
    }
    if let Some(e) = &lan.advert_error {
        eprintln!("parlor-server: not advertised over mDNS: {e}");
    }
    Ok(lan.advert)
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("PARLOR_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Text => builder.init(),
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

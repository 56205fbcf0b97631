//! `parlor-client`: Parlor's headless client.
//!
//! `parlor-client devices` lists the cameras, microphones and speakers this machine offers,
//! synthetic sources included.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "parlor-client", version, about = "Parlor's headless client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List cameras, microphones and speakers (an empty list of real devices is normal on a
    /// machine without them; the synthetic sources are always there)
    Devices {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Devices { json } => {
            let devices = parlor_media::capture::devices()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                for d in devices {
                    println!(
                        "{:<10} {:<24} {}",
                        format!("{:?}", d.kind).to_lowercase(),
                        d.id,
                        d.name
                    );
                }
            }
        }
    }
    Ok(())
}

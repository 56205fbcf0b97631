//! The deployment files in `packaging/` stay in step with the server: the sample configuration
//! loads and passes validation, and every `PARLOR_*` variable they set is one the server reads.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use parlor_server::config::{Cli, Config};
use std::path::{Path, PathBuf};

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging")
}

#[test]
fn the_sample_configuration_loads() {
    let config = Config::load(Cli {
        config: Some(packaging().join("parlor.toml")),
        ..Cli::default()
    })
    .unwrap_or_else(|e| panic!("packaging/parlor.toml: {e}"));
    assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(config.media_workers, 2);
}

/// `PARLOR_…` names in a file: an upper-case word starting with the prefix.
fn variables(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("PARLOR_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        found.push(name);
    }
    found
}

#[test]
fn deployment_files_only_set_variables_the_server_reads() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_parlor-server"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let files = [
        "docker/Dockerfile",
        "compose/compose.yaml",
        "compose/parlor.env.example",
        "helm/parlor/templates/deployment.yaml",
        "systemd/parlor-server.service",
    ];
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(packaging().join(file)).unwrap();
        for name in variables(&text) {
            // `[env: NAME=…]`, or `[env: NAME]` for a secret whose value help hides.
            let read = [format!("[env: {name}="), format!("[env: {name}]")];
            assert!(
                read.iter().any(|r| help.contains(r.as_str())),
                "{file} sets {name}, which parlor-server does not read"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} variables found");
}

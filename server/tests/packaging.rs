//! The deployment files in `packaging/` stay in step with the server and pass their own tools'
//! checks: the sample configuration loads and passes validation, every `PARLOR_*` variable they
//! set is one the server reads, the Helm chart lints and renders objects that are valid
//! Kubernetes, docker-compose accepts the compose file, nginx the proxy's configuration,
//! systemd the unit and hadolint the Dockerfile. (Nothing here builds or runs an image: that
//! needs a container engine.)

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

/// Where `scripts/packaging-tools.sh` (run by `make test`) put helm, kubernetes-validate and
/// nginx.
fn tool(relative: &str) -> PathBuf {
    let dir = std::env::var_os("PARLOR_TOOLS").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/parlor/tools"),
        PathBuf::from,
    );
    let path = dir.join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/packaging-tools.sh (make test does)",
        path.display()
    );
    path
}

/// Runs a program; its status, standard output and standard error.
fn run(program: &Path, args: &[&str], dir: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("parlor-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("parlor-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("parlor-helm-data"),
        )
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `helm template` with these `--set` values, as JSON documents (PyYAML from the tools'
/// environment reads the YAML); the rendered YAML is written to `into`.
fn render_chart(values: &[&str], into: &Path) -> Vec<serde_json::Value> {
    let mut args = vec!["template", "meet", "parlor"];
    for v in values {
        args.extend(["--set", v]);
    }
    let (ok, yaml, err) = run(&tool("venv/bin/helm"), &args, &packaging().join("helm"));
    assert!(ok, "helm template {values:?}: {err}");
    std::fs::write(into, &yaml).unwrap();
    let (ok, json, err) = run(
        &tool("venv/bin/python"),
        &[
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
            into.to_str().unwrap(),
        ],
        &packaging(),
    );
    assert!(ok, "reading the rendered chart: {err}");
    serde_json::from_str(&json).unwrap()
}

fn kinds(docs: &[serde_json::Value]) -> Vec<&str> {
    let mut kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    kinds.sort_unstable();
    kinds
}

/// Every object but the ServiceMonitor (a CRD, no schema offline) is valid Kubernetes 1.30,
/// unknown fields included.
fn assert_valid_kubernetes(rendered: &Path) {
    let (ok, out, err) = run(
        &tool("venv/bin/kubernetes-validate"),
        &["--strict", "-k", "1.30.0", rendered.to_str().unwrap()],
        &packaging(),
    );
    let report = format!("{out}{err}");
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| !l.contains(" passed for resource "))
        .filter(|l| !l.contains("Couldn't find schema for kind ServiceMonitor"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(ok && problems.is_empty(), "kubernetes-validate:\n{report}");
}

fn pod_of(docs: &[serde_json::Value]) -> &serde_json::Value {
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").unwrap();
    &deployment["spec"]["template"]["spec"]
}

const REQUIRED: [&str; 3] = [
    "databaseUrl=postgres://parlor:pw@postgres:5432/parlor",
    "redisUrl=redis://redis:6379",
    "tokenSecret=0123456789abcdef0123456789abcdef",
];

#[test]
fn the_helm_chart_lints_and_renders_valid_kubernetes_objects() {
    let helm = tool("venv/bin/helm");
    let dir = tempfile::tempdir().unwrap();
    let set = REQUIRED.join(",");
    let (ok, out, err) = run(
        &helm,
        &["lint", "parlor", "--strict", "--set", &set],
        &packaging().join("helm"),
    );
    assert!(ok, "helm lint:\n{out}{err}");

    // Without its secrets the chart refuses to render, naming what is missing.
    let (ok, _, err) = run(
        &helm,
        &["template", "meet", "parlor"],
        &packaging().join("helm"),
    );
    assert!(!ok && err.contains("tokenSecret is required"), "{err}");

    // Everything on: ingress and ServiceMonitor too.
    let rendered = dir.path().join("all.yaml");
    let mut values = REQUIRED.to_vec();
    values.extend(["ingress.enabled=true", "serviceMonitor.enabled=true"]);
    let docs = render_chart(&values, &rendered);
    assert_eq!(
        kinds(&docs),
        [
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceMonitor"
        ]
    );
    assert_valid_kubernetes(&rendered);
    let pod = pod_of(&docs);
    let container = &pod["containers"][0];
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        "/health/ready"
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        "/health/live"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // One UDP and one TCP media port per worker, on the host, at the same number.
    let ports = container["ports"].as_array().unwrap();
    for (port, protocol) in [
        (50000, "UDP"),
        (50001, "UDP"),
        (50000, "TCP"),
        (50001, "TCP"),
    ] {
        assert!(
            ports.iter().any(|p| p["containerPort"] == port
                && p["hostPort"] == port
                && p["protocol"] == protocol),
            "media port {port}/{protocol} in {ports:?}"
        );
    }
    let env = container["env"].as_array().unwrap();
    let public_ip = env
        .iter()
        .find(|e| e["name"] == "PARLOR_PUBLIC_IP")
        .unwrap();
    assert_eq!(
        public_ip["valueFrom"]["fieldRef"]["fieldPath"],
        "status.hostIP"
    );
    let monitor = docs.iter().find(|d| d["kind"] == "ServiceMonitor").unwrap();
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");

    // An existing Secret, one public address, no autoscaler or disruption budget.
    let rendered = dir.path().join("some.yaml");
    let docs = render_chart(
        &[
            "existingSecret=parlor-secrets",
            "media.publicIpFrom=value",
            "media.publicIp=198.51.100.7",
            "media.workers=3",
            "autoscaling.enabled=false",
            "podDisruptionBudget.enabled=false",
        ],
        &rendered,
    );
    assert_eq!(kinds(&docs), ["Deployment", "Service"]);
    assert_valid_kubernetes(&rendered);
    let container = &pod_of(&docs)["containers"][0];
    let env = container["env"].as_array().unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"] == "PARLOR_PUBLIC_IP" && e["value"] == "198.51.100.7"));
    assert!(env
        .iter()
        .any(|e| e["valueFrom"]["secretKeyRef"]["name"] == "parlor-secrets"));
    assert_eq!(container["ports"].as_array().unwrap().len(), 1 + 2 * 3);
}

#[test]
fn the_compose_file_is_valid_with_the_sample_environment() {
    let compose = Path::new("/usr/bin/docker-compose");
    assert!(
        compose.exists(),
        "docker-compose is missing (make test installs it)"
    );
    let dir = packaging().join("compose");
    let (ok, out, err) = run(
        compose,
        &[
            "--env-file",
            "parlor.env.example",
            "-f",
            "compose.yaml",
            "config",
        ],
        &dir,
    );
    assert!(ok, "docker-compose config:\n{err}");
    for service in ["proxy:", "parlor-1:", "parlor-2:", "redis:", "postgres:"] {
        assert!(
            out.contains(&format!("\n  {service}\n")),
            "{service} in\n{out}"
        );
    }
    assert!(
        out.contains("protocol: udp"),
        "media ports over UDP in\n{out}"
    );
    assert!(
        out.contains("PARLOR_REDIS_URL: redis://redis:6379"),
        "{out}"
    );
}

/// The proxy's configuration, checked by nginx itself. The copy under test differs only where
/// a container differs from this machine: the nodes' names resolve to loopback, file paths are
/// in a temporary directory, and `http2 on;` (nginx 1.25.1 and later, as in the image) is left
/// out for older nginx.
#[test]
fn the_edge_proxy_configuration_is_accepted_by_nginx() {
    let nginx = tool("nginx/usr/sbin/nginx");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();

    let (_, _, version) = run(&nginx, &["-v"], dir.path());
    let number: Vec<u32> = version
        .split("nginx/")
        .nth(1)
        .unwrap_or_else(|| panic!("nginx -v said {version:?}"))
        .trim()
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    let old = number < vec![1, 25, 1];
    let original = std::fs::read_to_string(packaging().join("compose/nginx.conf")).unwrap();
    assert!(original.contains("server parlor-1:8080") && original.contains("/etc/nginx/tls/"));
    let mut conf = original
        .replace("parlor-1:8080", "127.0.0.1:8080")
        .replace("parlor-2:8080", "127.0.0.1:8081")
        .replace("/etc/nginx/tls/", &format!("{d}/"))
        .replace(
            "http {",
            &format!(
                "http {{\n    access_log {d}/logs/access.log;\n    client_body_temp_path {d}/body;\n    \
                 proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
                 uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;"
            ),
        );
    if old {
        conf = conf.replace("http2 on;", "");
    }
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let pid = format!("pid {d}/nginx.pid;");
    let (ok, out, err) = run(
        &nginx,
        &[
            "-t",
            "-p",
            d,
            "-e",
            &format!("{d}/logs/error.log"),
            "-c",
            path.to_str().unwrap(),
            "-g",
            &pid,
        ],
        dir.path(),
    );
    assert!(
        ok && err.contains("test is successful"),
        "nginx -t ({version}):\n{out}{err}"
    );
}

/// `systemd-analyze verify` on the unit, pointed at the built binary; any complaint (an
/// unknown key is only a warning to systemd) fails.
#[test]
fn the_systemd_unit_verifies() {
    let analyze = Path::new("/usr/bin/systemd-analyze");
    assert!(
        analyze.exists(),
        "systemd-analyze is missing (make test installs systemd)"
    );
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(packaging().join("systemd/parlor-server.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/parlor-server"));
    let unit = unit.replace(
        "/usr/bin/parlor-server",
        env!("CARGO_BIN_EXE_parlor-server"),
    );
    let path = dir.path().join("parlor-server.service");
    std::fs::write(&path, unit).unwrap();
    let (ok, out, err) = run(analyze, &["verify", path.to_str().unwrap()], dir.path());
    assert!(
        ok && out.trim().is_empty() && err.trim().is_empty(),
        "systemd-analyze verify:\n{out}{err}"
    );
}

/// hadolint on the Dockerfile: every finding, down to `info`, fails.
#[test]
fn the_dockerfile_passes_hadolint() {
    let (ok, out, err) = run(
        &tool("venv/bin/hadolint"),
        &[
            "--no-color",
            "--failure-threshold",
            "info",
            "docker/Dockerfile",
        ],
        &packaging(),
    );
    assert!(ok && out.trim().is_empty(), "hadolint:\n{out}{err}");
}

//! `deploy/kubernetes/`: the manifests validated against the Kubernetes schemas, checked
//! against each other and against rqs, and the Deployment's command line run as two pods
//! would run it, with the static binary of the image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rqs_testkit::python;
use serde_json::Value;

use super::{
    PASSWORD, containerfile_user, output, read, redis_with_password, static_binary, workspace_field,
};
use crate::common::{T, http_get, parse_metrics};
use crate::support::{Daemon, eventually, root};

/// `kubernetes-validate` and everything it imports, pinned.
const KUBERNETES_VALIDATE: &[&str] = &[
    "kubernetes-validate==1.37.0",
    "attrs==26.1.0",
    "importlib_resources==7.1.0",
    "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1",
    "packaging==26.4",
    "PyYAML==6.0.4",
    "referencing==0.37.0",
    "rpds-py==2026.9.1",
    "typing_extensions==4.16.0",
];

/// The oldest Kubernetes the manifests are for: `unhealthyPodEvictionPolicy` is on by
/// default from 1.27.
const OLDEST_KUBERNETES: (u32, u32) = (1, 27);

/// The pinned virtualenv with kubernetes-validate, built once under target/rqs-python/.
fn validator_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let wanted = KUBERNETES_VALIDATE.join("\n");
        let cache = python::cache_dir();
        let env = cache.join("kubernetes-validate-1.37.0");
        let marker = env.join(".rqs-complete");
        if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
            return env.join("bin/python");
        }
        // Built beside its place and moved in whole: a parallel test run never sees half
        // an environment, and whoever moves first wins. The interpreter finds its
        // environment from its own path, so the move keeps it working.
        std::fs::create_dir_all(&cache).unwrap();
        let building = cache.join(format!(".kubernetes-validate.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        output(
            Command::new(python::base_python())
                .args(["-m", "venv"])
                .arg(&building),
            "create a virtualenv (Debian: apt-get install -y python3-venv)",
        );
        output(
            Command::new(building.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(KUBERNETES_VALIDATE),
            "install the pinned kubernetes-validate from PyPI",
        );
        std::fs::write(building.join(".rqs-complete"), &wanted).unwrap();
        if env.exists() && !std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
            // Another version's environment.
            let _ = std::fs::remove_dir_all(&env);
        }
        if std::fs::rename(&building, &env).is_err() {
            let _ = std::fs::remove_dir_all(&building);
        }
        assert!(
            std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted),
            "no complete kubernetes-validate environment at {}",
            env.display()
        );
        env.join("bin/python")
    })
}

/// Every `.yaml` file under deploy/kubernetes/, relative to the repository.
fn manifest_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("deploy/kubernetes"), &mut files);
    let mut files: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

/// YAML documents as JSON, read by PyYAML (from the validator's environment).
fn yaml_documents(python: &Path, files: &[PathBuf]) -> Vec<Value> {
    let out = output(
        Command::new(python)
            .args([
                "-c",
                "import json, sys, yaml\n\
                 docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]\n\
                 json.dump(docs, sys.stdout)",
            ])
            .args(files),
        "read YAML",
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The shipped manifests, as JSON, each with the file it came from.
fn manifests() -> Vec<(String, Value)> {
    let python = validator_python();
    manifest_files()
        .into_iter()
        .flat_map(|file| {
            yaml_documents(python, &[root().join(&file)])
                .into_iter()
                .map(move |doc| (file.clone(), doc))
        })
        .collect()
}

fn kind<'a>(docs: &'a [(String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} in deploy/kubernetes/");
    found[0]
}

fn is_crd(doc: &Value) -> bool {
    doc["apiVersion"]
        .as_str()
        .is_some_and(|v| v.starts_with("monitoring.coreos.com/"))
}

/// Runs kubernetes-validate (strict: unknown fields are errors); its status and output.
fn kubernetes_validate(files: &[PathBuf], versions: &[String]) -> (bool, String) {
    let mut cmd = Command::new(validator_python());
    cmd.args(["-m", "kubernetes_validate", "--strict"]);
    for v in versions {
        cmd.args(["-k", v]);
    }
    let out = cmd
        .args(files)
        .current_dir(root())
        .output()
        .expect("cannot run kubernetes-validate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let python = validator_python();
    let listed = output(
        Command::new(python).args([
            "-c",
            "import kubernetes_validate.utils as u; print(' '.join(sorted(set(u.all_versions()))))",
        ]),
        "list the bundled Kubernetes versions",
    );
    let mut versions: Vec<(u32, u32)> = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .filter(|v| *v >= OLDEST_KUBERNETES)
        .collect();
    versions.sort_unstable();
    versions.dedup();
    assert!(versions.len() >= 2, "{versions:?}");
    let versions: Vec<String> = versions.iter().map(|(a, b)| format!("{a}.{b}")).collect();

    let docs = manifests();
    let files: Vec<PathBuf> = manifest_files().iter().map(PathBuf::from).collect();
    let (ok, out) = kubernetes_validate(&files, &versions);
    eprintln!(
        "kubernetes-validate --strict -k {}:\n{out}",
        versions.join(" -k ")
    );
    assert!(ok, "kubernetes-validate failed:\n{out}");
    assert!(!out.contains("ERROR"), "{out}");
    // It only warns about a kind it has no schema for: that may be the Prometheus
    // Operator's ServiceMonitor (checked field by field below), nothing else.
    for line in out.lines().filter(|l| l.starts_with("WARN")) {
        assert!(
            line.contains("with api version monitoring.coreos.com/v1"),
            "no schema, so not validated: {line}"
        );
    }
    for (file, doc) in docs.iter().filter(|(_, d)| !is_crd(d)) {
        let resource = format!(
            "{}/{}",
            doc["kind"].as_str().unwrap().to_lowercase(),
            doc["metadata"]["name"].as_str().unwrap()
        );
        for v in &versions {
            let passed = format!("INFO {file} passed for resource {resource} against version {v}");
            assert!(out.lines().any(|l| l == passed), "missing: {passed}\n{out}");
        }
    }

    // The check is not vacuous: a misspelt field is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("deployment.yaml");
    let text = read("deploy/kubernetes/deployment.yaml");
    assert!(text.contains("readinessProbe:"));
    std::fs::write(&broken, text.replace("readinessProbe:", "readinesProbe:")).unwrap();
    let (ok, out) = kubernetes_validate(&[broken], &versions[versions.len() - 1..]);
    assert!(!ok && out.contains("readinesProbe"), "{out}");
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The value following `flag` in a container's args.
fn arg_after<'a>(args: &'a [String], flag: &str) -> &'a str {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    &args[at + 1]
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_manifests_fit_together_and_fit_rqs() {
    let docs = manifests();
    let deployment = kind(&docs, "Deployment");
    let service = kind(&docs, "Service");
    let pdb = kind(&docs, "PodDisruptionBudget");
    let account = kind(&docs, "ServiceAccount");
    let monitor = kind(&docs, "ServiceMonitor");
    let secret = kind(&docs, "Secret");
    let spec = &deployment["spec"];
    let pod = &spec["template"]["spec"];
    let pod_labels = &spec["template"]["metadata"]["labels"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();

    // One active and one standby; a rollout never goes below two.
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);

    // Selectors find the pods; the Service's port is the container's, which is the port
    // rqs serves on, on every address of the pod.
    assert!(labels_match(&spec["selector"]["matchLabels"], pod_labels));
    assert!(labels_match(&service["spec"]["selector"], pod_labels));
    assert!(labels_match(
        &pdb["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    let port = &c["ports"][0];
    assert_eq!(port["name"], "metrics");
    let sport = &service["spec"]["ports"][0];
    assert_eq!(sport["targetPort"], port["name"]);
    let addr: std::net::SocketAddr = arg_after(&args, "--metrics-addr").parse().unwrap();
    assert!(
        addr.ip().is_unspecified(),
        "probes and Prometheus connect to the pod's IP"
    );
    assert_eq!(port["containerPort"], addr.port());
    assert_eq!(sport["port"], addr.port());
    // Prometheus must reach unready pods (Redis down) to see rqs_redis_up 0.
    assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    assert_eq!(service["spec"]["clusterIP"], "None");

    // The image's entry point runs: the manifest gives only its arguments.
    assert!(c.get("command").is_none(), "keep the image's ENTRYPOINT");
    assert_eq!(args[0], "run");
    let version = workspace_field("version");
    let image = c["image"].as_str().unwrap();
    assert!(
        image.ends_with(&format!("/rqs:{version}")),
        "{image} is not rqs {version}"
    );

    // Each pod its own instance name, from the downward API.
    assert_eq!(arg_after(&args, "--name"), "$(POD_NAME)");
    let env = c["env"].as_array().unwrap();
    let var = |name: &str| env.iter().find(|e| e["name"] == name);
    assert_eq!(
        var("POD_NAME").unwrap()["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    // Service links would put RQ_REDIS_PORT=tcp://... in the environment for a Service
    // named rq-redis.
    assert_eq!(pod["enableServiceLinks"], false);

    // The connection from the Secret: the URL by reference, the password as a file that
    // the kubelet keeps up to date (no subPath), readable by the image's group.
    for e in env {
        assert!(
            e.get("value").is_none(),
            "a literal value in the manifest: {e}"
        );
        assert!(
            !e["name"].as_str().unwrap().contains("PASSWORD"),
            "the password goes through --password-file: {e}"
        );
    }
    let url_ref = &var("RQ_REDIS_URL").unwrap()["valueFrom"]["secretKeyRef"];
    let password_file = Path::new(arg_after(&args, "--password-file"));
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| password_file.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the password file is on a mounted volume");
    assert_eq!(mount["readOnly"], true);
    assert!(mount.get("subPath").is_none(), "a subPath is never updated");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let from = &volume["secret"];
    assert_eq!(from["secretName"], url_ref["name"]);
    assert_eq!(secret["metadata"]["name"], url_ref["name"]);
    let item = &from["items"][0];
    assert_eq!(
        Path::new(mount["mountPath"].as_str().unwrap()).join(item["path"].as_str().unwrap()),
        password_file
    );
    for key in [&item["key"], &url_ref["key"]] {
        assert!(
            secret["stringData"].get(key.as_str().unwrap()).is_some(),
            "the example Secret has no {key}"
        );
    }
    assert_eq!(from["defaultMode"], 0o440);

    // Not root, nothing to escalate to, nothing to write.
    let (uid, gid) = containerfile_user();
    let psc = &pod["securityContext"];
    let csc = &c["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(csc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], uid);
    assert_eq!(psc["runAsGroup"], gid);
    assert_eq!(psc["fsGroup"], gid);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["privileged"], false);
    assert_eq!(csc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);

    // Probes: liveness on /healthz only (a Redis outage must never restart rqs: it
    // retries by itself and resumes within a second), readiness on /readyz.
    let probe = |name: &str| {
        let p = &c[name];
        assert_eq!(p["httpGet"]["port"], port["name"], "{name}");
        (
            p["httpGet"]["path"].as_str().unwrap().to_owned(),
            p["periodSeconds"].as_u64().unwrap(),
            p["failureThreshold"].as_u64().unwrap(),
            p["timeoutSeconds"].as_u64().unwrap(),
        )
    };
    let (path, period, failures, timeout) = probe("livenessProbe");
    assert_eq!(path, "/healthz");
    // Not on a hair trigger: /healthz already waits 60 s for a turn of the loop.
    assert!(
        period * failures >= 20 && timeout >= 2,
        "{:?}",
        c["livenessProbe"]
    );
    let (path, period, failures, _) = probe("readinessProbe");
    assert_eq!(path, "/readyz");
    // Ready again soon after Redis answers, unready once the 5 s lease is gone.
    assert!(
        period <= 5 && period * failures >= 5,
        "{:?}",
        c["readinessProbe"]
    );
    let (path, period, failures, _) = probe("startupProbe");
    assert_eq!(path, "/healthz");
    assert!(period * failures >= 30, "{:?}", c["startupProbe"]);

    // A clean stop gets the time systemd gives it (deploy/rqs.service).
    let unit = read("deploy/rqs.service");
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .expect("TimeoutStopSec in the unit")
        .parse()
        .unwrap();
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= stop);

    // The budget keeps one instance through voluntary disruptions, and does not evict
    // pods that wait for Redis.
    let max_unavailable = pdb["spec"]["maxUnavailable"]
        .as_u64()
        .expect("maxUnavailable");
    assert!(max_unavailable < 2);
    assert_eq!(pdb["spec"]["unhealthyPodEvictionPolicy"], "IfHealthyBudget");

    // The ServiceMonitor: the Service's pods, its port, job="rqs" as the rules expect,
    // the interval of the rules' unit tests. No schema checks it (a custom resource),
    // so every field is named here.
    let ms = &monitor["spec"];
    assert!(is_crd(monitor) && monitor["apiVersion"] == "monitoring.coreos.com/v1");
    assert_eq!(
        keys(ms),
        BTreeSet::from(["endpoints", "jobLabel", "selector"])
    );
    assert_eq!(keys(&ms["selector"]), BTreeSet::from(["matchLabels"]));
    assert!(labels_match(
        &ms["selector"]["matchLabels"],
        &service["metadata"]["labels"]
    ));
    let job_label = ms["jobLabel"].as_str().unwrap();
    assert_eq!(service["metadata"]["labels"][job_label], "rqs");
    let rules = read("deploy/prometheus/rqs-rules.yml");
    assert!(rules.contains("job=\"rqs\""));
    let endpoints = ms["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let ep = &endpoints[0];
    assert_eq!(
        keys(ep),
        BTreeSet::from(["interval", "path", "port", "scrapeTimeout"])
    );
    assert_eq!(ep["port"], sport["name"]);
    assert_eq!(ep["path"], "/metrics");
    let tests = read("deploy/prometheus/rqs-rules.test.yml");
    assert!(
        tests.contains(&format!(
            "evaluation_interval: {}",
            ep["interval"].as_str().unwrap()
        )),
        "the scrape interval is not the one the rules are tested with"
    );

    // The PrometheusRule that monitoring/prometheusrule.sh renders holds the rule file's
    // groups exactly.
    let python = validator_python();
    let rendered = output(
        Command::new("sh")
            .arg(root().join("deploy/kubernetes/monitoring/prometheusrule.sh"))
            .arg("release=monitoring"),
        "render the PrometheusRule",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheusrule.yaml");
    std::fs::write(&file, &rendered.stdout).unwrap();
    let rule = &yaml_documents(python, &[file])[0];
    let from_rules = &yaml_documents(python, &[root().join("deploy/prometheus/rqs-rules.yml")])[0];
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["metadata"]["labels"]["release"], "monitoring");
    assert_eq!(
        &rule["spec"], from_rules,
        "the PrometheusRule is not the rule file"
    );

    // The two ignore files are one.
    assert_eq!(read(".containerignore"), read(".dockerignore"));
}

/// The Deployment's container, run as the kubelet would run it in a pod named `pod`:
/// `$(POD_NAME)` expanded, the Secret's files in `secret`, the metrics server on a free
/// loopback port instead of every address of this machine.
fn start_pod(bin: &Path, container: &Value, pod: &str, secret: &Path, url: &str) -> Daemon {
    let mount = container["volumeMounts"][0]["mountPath"].as_str().unwrap();
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if a == "$(POD_NAME)" {
                pod.to_owned()
            } else if a.starts_with("0.0.0.0:") {
                "127.0.0.1:0".to_owned()
            } else if let Some(file) = a.strip_prefix(mount) {
                format!("{}{file}", secret.display())
            } else {
                a.clone()
            }
        })
        .collect();
    let mut cmd = Command::new(bin);
    cmd.args(&args)
        .env("POD_NAME", pod)
        .env("RQ_REDIS_URL", url);
    Daemon::spawn(cmd)
}

/// The address a daemon's log says it serves on.
async fn served_at(d: &Daemon) -> String {
    eventually(T, "the metrics address in the log", || {
        let log = d.log();
        async move {
            let rest = log.split_once("status page on http://")?.1;
            Some(rest.split_once('/')?.0.to_owned())
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployments_command_line_runs_two_pods_one_active() {
    let docs = manifests();
    let deployment = kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap());
    let (server, password_file) = redis_with_password();
    let secret = tempfile::tempdir().unwrap();
    let item = pod["volumes"][0]["secret"]["items"][0]["path"]
        .as_str()
        .unwrap();
    std::fs::copy(password_file.path(), secret.path().join(item)).unwrap();
    let bin = static_binary();
    let names = ["rqs-6d4cf56db6-2x7kq", "rqs-6d4cf56db6-9tqzn"];
    let mut pods: Vec<Daemon> = names
        .iter()
        .map(|name| start_pod(bin, container, name, secret.path(), &server.url()))
        .collect();

    let path = |probe: &str| {
        container[probe]["httpGet"]["path"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut addrs = Vec::new();
    for d in &pods {
        let addr = served_at(d).await;
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let path = path(probe);
            let (status, body) = eventually(T, &format!("{probe} {path}"), || {
                let got = http_get(&addr, &path).ok().filter(|(s, _)| *s == 200);
                async move { got }
            })
            .await;
            assert_eq!(status, 200, "{probe}: {body}");
        }
        addrs.push(addr);
    }
    // Both registered under their pod's name; exactly one acts.
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}/0", server.port());
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    for name in names {
        let exists: bool = redis::cmd("EXISTS")
            .arg(format!("rq:scheduler_instance:{name}"))
            .query(&mut conn)
            .unwrap();
        assert!(exists, "no instance record for {name}");
    }
    eventually(T, "one active instance and one standby", || {
        let leaders: f64 = addrs
            .iter()
            .map(|a| {
                let (_, body) = http_get(a, "/metrics").unwrap();
                parse_metrics(&body)
                    .get("rqs_is_leader")
                    .copied()
                    .unwrap_or(-1.0)
            })
            .sum();
        async move { (leaders == 1.0).then_some(()) }
    })
    .await;

    // Every log line is JSON, for the cluster's log collector.
    for d in &pods {
        let log = d.log();
        for line in log.lines() {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        }
    }

    // SIGTERM, as the kubelet stops a pod: a clean exit well within the grace period.
    let stopping = Instant::now();
    for d in &pods {
        d.signal(Signal::SIGTERM);
    }
    for d in &mut pods {
        assert_eq!(d.exit_code(grace), 0, "{}", d.log());
    }
    assert!(stopping.elapsed() < grace);
}

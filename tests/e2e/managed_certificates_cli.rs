//! Issue 15 through the real command line (`unity-controller cert ...`, run as a process with
//! the daemon stopped, straight on the data directory): the services CA is created on first
//! use with a private key, its root prints as PEM and DER, and declarations are checked.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// Runs `unity-controller --data-dir DATA_DIR ARGS...`: (success, stdout bytes, stderr).
fn cli(data_dir: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(BINARY)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("UNITY_LOG", "warn")
        .output()
        .expect("the controller binary runs");
    (
        output.status.success(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn issue_15_cert_ca_prints_the_services_root_and_declarations_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("controller");
    std::fs::create_dir_all(&data_dir).unwrap();

    let (ok, pem, stderr) = cli(&data_dir, &["cert", "ca", "--pem"]);
    assert!(ok, "{stderr}");
    let pem = String::from_utf8(pem).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let stored = std::fs::read_to_string(data_dir.join("services-ca/ca.crt")).unwrap();
    assert_eq!(pem.trim(), stored.trim());
    let key_mode = std::fs::metadata(data_dir.join("services-ca/ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    // Not the agent CA.
    let agent_ca = std::fs::read_to_string(data_dir.join("ca/ca.crt")).unwrap();
    assert_ne!(agent_ca.trim(), stored.trim());

    let (ok, der, stderr) = cli(&data_dir, &["cert", "ca", "--der"]);
    assert!(ok, "{stderr}");
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(parsed.is_ca());
    assert!(parsed
        .subject()
        .to_string()
        .contains("Unity homelab services CA"));

    let (ok, list, stderr) = cli(&data_dir, &["cert", "list"]);
    assert!(ok, "{stderr}");
    assert!(String::from_utf8(list).unwrap().starts_with("NAME"));

    let (ok, _, stderr) = cli(
        &data_dir,
        &[
            "cert",
            "declare",
            "web",
            "--host",
            "ghost",
            "--dns",
            "web.home.arpa",
            "--key",
            "/etc/nginx/web.key",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("no host"), "{stderr}");
}

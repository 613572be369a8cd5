//! The sshd side's refusals before anything is written: host keys read by pattern (public
//! halves only, certificates and junk skipped), a main configuration without Unity's
//! `Include`, a certificate for a key this host does not have, and `[sshd] enabled = false`.
//! The whole write-check-reload path runs against a real sshd in tests/e2e/ssh_ca/.

use super::*;
use unity_shared::model::ssh::{SshHostCertificate, SshLine};

const HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZGVpIeQ7yQZawhV65tPxx3V+nhCOmCx/OrSNQ2+Bji root@nas";

fn config(dir: &Path) -> SshdConfig {
    SshdConfig {
        host_keys: vec![dir.join("ssh/ssh_host_*_key.pub").display().to_string()],
        unity_dir: dir.join("ssh/unity"),
        drop_in: dir.join("ssh/sshd_config.d/50-unity.conf"),
        config: dir.join("ssh/sshd_config"),
        ..SshdConfig::default()
    }
}

fn host(dir: &Path) {
    std::fs::create_dir_all(dir.join("ssh/sshd_config.d")).unwrap();
    std::fs::write(
        dir.join("ssh/ssh_host_ed25519_key.pub"),
        format!("{HOST_KEY}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("ssh/ssh_host_ed25519_key"), "private, never read").unwrap();
    std::fs::write(dir.join("ssh/ssh_host_rsa_key.pub"), "not a key\n").unwrap();
    std::fs::write(
        dir.join("ssh/ssh_host_ecdsa_key-cert.pub"),
        "a certificate\n",
    )
    .unwrap();
}

fn trusted_only() -> ConfigureSshd {
    ConfigureSshd {
        host_certificates: Vec::new(),
        trusted_user_ca_keys: vec![SshLine::new("ssh-ed25519 AAAA unity-ssh-ca").unwrap()],
        principals: Vec::new(),
        revoked_keys: Vec::new(),
    }
}

#[tokio::test]
async fn host_keys_are_the_public_halves_the_patterns_name() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path());
    let keys = read_host_keys(&config(dir.path())).await.unwrap().keys;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(
        keys[0].path,
        dir.path()
            .join("ssh/ssh_host_ed25519_key")
            .display()
            .to_string()
    );
    assert_eq!(keys[0].public_key.as_str(), HOST_KEY);
    let empty = tempfile::tempdir().unwrap();
    let error = read_host_keys(&config(empty.path())).await.unwrap_err();
    assert!(error.contains("no SSH host public keys"), "{error}");
}

#[tokio::test]
async fn a_main_config_without_the_include_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path());
    let config = config(dir.path());
    std::fs::write(&config.config, "Port 22\n").unwrap();
    let error = configure(&config, trusted_only()).await.unwrap_err();
    assert!(error.contains("does not include"), "{error}");
    assert!(!config.drop_in.exists());
    assert!(!config.unity_dir.exists());
}

#[tokio::test]
async fn certificates_only_for_the_hosts_own_keys() {
    let dir = tempfile::tempdir().unwrap();
    host(dir.path());
    let config = config(dir.path());
    let request = |path: &str, certificate: &str| ConfigureSshd {
        host_certificates: vec![SshHostCertificate {
            host_key_path: path.to_owned(),
            certificate: SshLine::new(certificate).unwrap(),
        }],
        trusted_user_ca_keys: Vec::new(),
        principals: Vec::new(),
        revoked_keys: Vec::new(),
    };
    let error = configure(&config, request("/etc/ssh/ssh_host_ed25519_key", HOST_KEY))
        .await
        .unwrap_err();
    assert!(
        error.contains("no host key /etc/ssh/ssh_host_ed25519_key"),
        "{error}"
    );
    let own = dir
        .path()
        .join("ssh/ssh_host_ed25519_key")
        .display()
        .to_string();
    // A public key is not a certificate of it.
    let error = configure(&config, request(&own, HOST_KEY))
        .await
        .unwrap_err();
    assert!(error.contains("certificate for"), "{error}");
    assert!(!config.drop_in.exists());
}

#[tokio::test]
async fn disabled_refuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let config = SshdConfig {
        enabled: false,
        ..config(dir.path())
    };
    assert!(read_host_keys(&config)
        .await
        .unwrap_err()
        .contains("disabled"));
    assert!(configure(&config, trusted_only())
        .await
        .unwrap_err()
        .contains("disabled"));
}

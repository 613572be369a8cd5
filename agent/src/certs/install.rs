//! Installing a managed certificate: the paths checked against `[delivery]` before anything is
//! touched, the certificate's public key matched against the pending key, the files written
//! atomically (what was there kept), then the reload run through `crate::exec`; when the
//! reload fails the previous files are put back and the reload run again, so the service keeps
//! serving the previous certificate.

use super::files::{self, Previous};
use super::{keys, policy};
use crate::config::delivery::DeliveryConfig;
use crate::exec::{self, CommandSpec};
use rcgen::KeyPair;
use std::path::PathBuf;
use unity_shared::model::certificate::{CertificateInstalled, InstallCertificate};

/// More certificates than this in one chain is not a chain.
const MAX_CHAIN: usize = 8;

/// One file to write.
struct Target {
    path: PathBuf,
    contents: Vec<u8>,
    mode: u32,
}

/// What was written, and what to put back.
pub struct Written {
    previous: Vec<Previous>,
    installed: CertificateInstalled,
}

fn pem_block(tag: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der.to_vec()), config)
}

/// Checks everything and writes the files (blocking). Nothing is written when a check fails;
/// a write that fails half-way puts back what it had replaced.
pub fn write(config: &DeliveryConfig, request: &InstallCertificate) -> Result<Written, String> {
    let files_wanted = &request.files;
    if files_wanted.key.is_none() && files_wanted.combined.is_none() {
        return Err(
            "the files name neither a key nor a combined file: the key would be lost".into(),
        );
    }
    // The policy first, before the request's contents are even looked at.
    for path in [
        &files_wanted.cert,
        &files_wanted.chain,
        &files_wanted.fullchain,
        &files_wanted.key,
        &files_wanted.combined,
    ]
    .into_iter()
    .flatten()
    {
        policy::check_path(path, &config.allowed_dirs).map_err(|error| error.to_string())?;
    }
    if let Some(argv) = &request.reload {
        policy::check_reload(argv, &config.reload_programs).map_err(|error| error.to_string())?;
    }
    let key = keys::load_pending(&config.key_dir, &request.certificate)
        .map_err(|error| error.to_string())?;
    let chain = pem::parse_many(request.chain_pem.as_bytes())
        .map_err(|error| format!("the chain is not PEM: {error}"))?;
    let chain: Vec<Vec<u8>> = chain
        .into_iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(|block| block.into_contents())
        .collect();
    if chain.is_empty() || chain.len() > MAX_CHAIN {
        return Err(format!("the chain holds {} certificates", chain.len()));
    }
    let installed = check_leaf(&chain[0], &key)?;
    let leaf = pem_block("CERTIFICATE", &chain[0]);
    let intermediates: String = chain[1..]
        .iter()
        .map(|der| pem_block("CERTIFICATE", der))
        .collect();
    let fullchain = format!("{leaf}{intermediates}");
    let key_pem = key.serialize_pem();
    let key_mode = match files_wanted.key_mode & 0o777 {
        0 => 0o600,
        mode => mode,
    };
    let wanted = [
        (&files_wanted.cert, leaf.clone(), 0o644),
        (&files_wanted.chain, intermediates, 0o644),
        (&files_wanted.fullchain, fullchain.clone(), 0o644),
        (&files_wanted.key, key_pem.clone(), key_mode),
        (
            &files_wanted.combined,
            format!("{fullchain}{key_pem}"),
            key_mode,
        ),
    ];
    let mut targets: Vec<Target> = Vec::new();
    for (path, contents, mode) in wanted {
        let Some(path) = path else { continue };
        let checked =
            policy::check_path(path, &config.allowed_dirs).map_err(|error| error.to_string())?;
        let real = files::resolve(&checked, &config.allowed_dirs)?;
        if targets.iter().any(|target| target.path == real) {
            return Err(format!("{path} is named for two files"));
        }
        targets.push(Target {
            path: real,
            contents: contents.into_bytes(),
            mode,
        });
    }
    let owner = files::owner_ids(files_wanted.owner.as_deref(), files_wanted.group.as_deref())?;
    let previous = targets
        .iter()
        .map(|target| files::snapshot(&target.path))
        .collect::<Result<Vec<_>, _>>()?;
    for (index, target) in targets.iter().enumerate() {
        if let Err(error) = files::replace(&target.path, &target.contents, target.mode, owner) {
            for done in &previous[..index] {
                let _ = files::restore(done);
            }
            return Err(format!(
                "writing {}: {error}{}; previous files restored",
                target.path.display(),
                read_only_hint(&error, &target.path)
            ));
        }
    }
    Ok(Written {
        previous,
        installed,
    })
}

/// What to do when the file system is read-only: under the packaged systemd unit
/// (`ProtectSystem=strict`) the agent may write only under `/etc/unity/certs` and what a
/// drop-in adds.
fn read_only_hint(error: &std::io::Error, path: &std::path::Path) -> String {
    if error.kind() != std::io::ErrorKind::ReadOnlyFilesystem {
        return String::new();
    }
    let dir = path.parent().unwrap_or(path).display();
    format!(
        " (the agent's systemd unit lets it write only under /etc/unity/certs: deliver there, \
         or allow this directory with `systemctl edit unity-agent` and \
         [Service] ReadWritePaths={dir})"
    )
}

/// The leaf's serial and expiry, if its public key is the pending key's.
fn check_leaf(der: &[u8], key: &KeyPair) -> Result<CertificateInstalled, String> {
    let (_, leaf) = x509_parser::parse_x509_certificate(der)
        .map_err(|error| format!("the certificate does not parse: {error}"))?;
    if leaf.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err("the certificate is not for the pending key; refusing to install it".into());
    }
    Ok(CertificateInstalled {
        serial_hex: hex_lower(leaf.raw_serial()),
        not_after_unix: leaf.validity().not_after.timestamp(),
        reloaded: false,
    })
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Puts the previous files back (blocking).
pub fn restore(written: &Written) -> Vec<String> {
    written
        .previous
        .iter()
        .filter_map(|previous| {
            files::restore(previous)
                .err()
                .map(|error| format!("{}: {error}", previous.path.display()))
        })
        .collect()
}

/// Runs the reload; `Err` says how it failed.
pub async fn reload(config: &DeliveryConfig, argv: &[String]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("the reload command is empty".into());
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spec = CommandSpec::new(program, &args).clear_env();
    let output = exec::run(&spec, config.reload_timeout)
        .await
        .map_err(|error| error.to_string())?;
    if output.exit_code == Some(0) {
        return Ok(());
    }
    let mut said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if said.is_empty() {
        said = output.stdout_lossy().trim().to_owned();
    }
    said.truncate(400);
    let status = match (output.exit_code, output.signal) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "no exit status".into(),
    };
    Err(format!("{} ended with {status}: {said}", spec.display()))
}

/// The whole install: write, reload, and on a failed reload restore and reload again.
pub async fn install(
    config: &DeliveryConfig,
    request: InstallCertificate,
) -> Result<CertificateInstalled, String> {
    let blocking_config = config.clone();
    let blocking_request = request.clone();
    let written = tokio::task::spawn_blocking(move || write(&blocking_config, &blocking_request))
        .await
        .map_err(|error| format!("install task failed: {error}"))??;
    let mut installed = written.installed.clone();
    if let Some(argv) = &request.reload {
        if let Err(failure) = reload(config, argv).await {
            let restore_errors = tokio::task::spawn_blocking(move || restore(&written))
                .await
                .map_err(|error| format!("restore task failed: {error}"))?;
            if !restore_errors.is_empty() {
                return Err(format!(
                    "reload failed: {failure}; restoring the previous files failed too: {}",
                    restore_errors.join("; ")
                ));
            }
            let again = match reload(config, argv).await {
                Ok(()) => String::new(),
                Err(error) => format!(" (reloading with them failed as well: {error})"),
            };
            return Err(format!(
                "reload failed: {failure}; previous certificate restored{again}"
            ));
        }
        installed.reloaded = true;
    }
    let key_dir = config.key_dir.clone();
    let name = request.certificate.clone();
    // The key now lives in the installed files; a stale pending copy would only linger.
    let removed = tokio::task::spawn_blocking(move || keys::remove_pending(&key_dir, &name)).await;
    if let Ok(Err(error)) = removed {
        tracing::warn!(%error, "Could not remove a pending certificate key.");
    }
    Ok(installed)
}

//! Issue 16: an sshd drop-in that fails `sshd -t` is never activated: the previous files are
//! put back exactly, sshd is not reloaded and keeps serving, the failure is recorded.

use super::{enable, lab, login, reloads, serving, sign, user_key};
use std::time::Duration;
use unity_controller::domain::ssh_ca::hosts::EnableHost;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_drop_in_that_fails_sshd_t_is_never_activated() {
    // This sshd includes the drop-in inside a Match block (for root): TrustedUserCAKeys is
    // allowed there, HostCertificate is not, so `sshd -t` refuses the configuration once the
    // controller sends host certificates.
    let lab = lab("Match User root\nInclude CONF_D/*.conf").await;
    let view = enable(
        &lab.controller,
        EnableHost {
            host: lab.agent_id.to_string(),
            host_certificates: false,
            trust_user_ca: true,
            extra_names: Vec::new(),
            users: vec!["root".into()],
        },
    )
    .await;
    assert_eq!(view.last_error, None);
    serving(&lab.sshd).await;
    let ops = user_key(&lab, "ops");
    sign(&lab, &ops, &["--principal", "root"]);
    login(&lab.sshd, &ops, None).unwrap();
    let drop_in_before = std::fs::read(&lab.drop_in).unwrap();
    let principals_before = std::fs::read(lab.unity_dir.join("principals/root")).unwrap();
    let reloads_before = reloads(&lab.sshd);

    let view = enable(
        &lab.controller,
        EnableHost {
            host: lab.agent_id.to_string(),
            host_certificates: true,
            trust_user_ca: true,
            extra_names: Vec::new(),
            users: vec!["root".into(), "ops".into()],
        },
    )
    .await;
    let error = view.last_error.expect("the configuration is refused");
    assert!(error.contains("sshd -t refused"), "{error}");
    assert!(error.contains("HostCertificate"), "{error}");
    // The previous files are back exactly; the new ones are gone; sshd was not reloaded and
    // still serves the old configuration.
    assert_eq!(std::fs::read(&lab.drop_in).unwrap(), drop_in_before);
    assert_eq!(
        std::fs::read(lab.unity_dir.join("principals/root")).unwrap(),
        principals_before
    );
    assert!(!lab.unity_dir.join("principals/ops").exists());
    let certificates: Vec<_> = std::fs::read_dir(&lab.unity_dir)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with("-cert.pub"))
        .collect();
    assert!(certificates.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reloads(&lab.sshd), reloads_before);
    login(&lab.sshd, &ops, None).unwrap();

    // The failure is recorded and audited.
    let context = lab.controller.context.clone();
    let audit = tokio::task::spawn_blocking(move || {
        unity_controller::domain::audit::recent(&context, 50).unwrap()
    })
    .await
    .unwrap();
    assert!(audit
        .iter()
        .any(|entry| entry.action == "ssh_ca.host_configure_failed"
            && entry.target.contains("sshd -t")));
}

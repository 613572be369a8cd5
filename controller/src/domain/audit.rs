//! The audit log: every change made through a face (who, what, to what, when), and reading it
//! back, newest first.

use super::error::DomainError;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::auth::AuditRecord;
use crate::storage::operations::OperationKind;
use serde::Serialize;

/// What was done, as the log names it (`user.create`, `container.update`, ...). The log
/// stores the name as text, so entries of other versions read back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    JoinTokenCreate,
    AgentRevoke,
    AgentPing,
    AgentCollect,
    UserCreate,
    UserDelete,
    ApiTokenCreate,
    ApiTokenRevoke,
    /// A container operation was asked for.
    Container(OperationKind),
    UpdatesCheck,
    UpdatePolicySet,
    MaintenanceWindowsSet,
    RegistryCredentialsSet,
    RegistryCredentialsDelete,
    SessionLogin,
    SessionLoginFailed,
    SessionLogout,
    UserGroupsSet,
    UserPasswordSet,
    GroupCreate,
    GroupDelete,
    GroupRightSet,
    HostGroupSet,
    HostGroupDelete,
    HostLabelsSet,
    TotpEnable,
    TotpDisable,
    RecoveryCodesCreate,
    PasskeyAdd,
    PasskeyDelete,
    /// A login's second factor passed (`method` in the target).
    SecondFactorPassed,
    SecondFactorFailed,
    /// A sign-in through the OpenID Connect provider.
    OidcLogin,
    /// A user made by their first OpenID Connect sign-in.
    OidcUserCreate,
    /// A managed certificate was declared.
    ManagedCertificateDeclare,
    /// A managed certificate was issued and installed (first time or renewal).
    ManagedCertificateIssue,
    /// Issuing or installing a managed certificate failed.
    ManagedCertificateIssueFailed,
    /// Someone asked for a managed certificate to be renewed now.
    ManagedCertificateRenew,
    ManagedCertificateRevoke,
    ManagedCertificateDelete,
    /// The SSH CA's key was made.
    SshCaCreate,
    /// A user certificate was signed (for whom, principals, validity, serial, key fingerprint).
    SshUserCertificateSign,
    /// A host's keys were signed and its sshd configured (serials, validity).
    SshHostConfigure,
    /// Configuring a host's sshd failed (the agent's or sshd's message).
    SshHostConfigureFailed,
    /// The SSH CA was enabled for a host (which pieces).
    SshHostEnable,
    SshHostDisable,
    /// User certificates were revoked (serials, key fingerprint); hosts refuse their key.
    SshUserCertificateRevoke,
    /// An agentless host was added (issue 16).
    AgentlessAdd,
    /// An agentless host's host key was pinned.
    AgentlessConfirm,
    AgentlessRemove,
    /// A secret was created or given a new value (never the value itself).
    SecretSet,
    SecretDelete,
    SecretScopeSet,
    /// A secret's value was delivered to a host (the host is the actor).
    SecretDelivered,
    /// A host asked for a secret it may not have (or that does not exist).
    SecretRefused,
    /// The sealing key was rotated and the sealed records re-sealed.
    SealingKeyRotate,
    /// Managed SSH access (`ssh.<event>`).
    SshAccess(super::ssh_access::events::SshAccessEvent),
    /// A drive's SMART values of now were accepted as its new baseline (issue 18).
    DiskBaselineAccept,
    /// A service check was defined or changed (issue 18).
    ServiceCheckSet,
    /// A service check was deleted.
    ServiceCheckDelete,
    /// An open alert was acknowledged (issue 18).
    AlertAcknowledge,
    AlertUnacknowledge,
    AlertSilenceCreate,
    AlertSilenceDelete,
    /// An alert rule was made or changed in the dashboard or API.
    AlertRuleSet,
    AlertRuleDelete,
    /// An administrator read a container's log through its agent (issue 19; never stored).
    ContainerLogs,
    /// An administrator started following a container's log.
    ContainerLogsFollow,
    /// A backup of the controller was made (issue 20; the archive, its size, encrypted or not).
    ControllerBackup,
    /// A backup of the controller failed (the error).
    ControllerBackupFailed,
    /// The controller's data directory was restored from a backup (recorded in the restored
    /// store).
    ControllerRestore,
    /// The release key that signs agent builds was made (its key id).
    ReleaseKeyCreate,
    /// The release key was replaced; the old one verifies until the time in the target.
    ReleaseKeyRotate,
    /// An agent build was added to the store (arch, kind, version, SHA-256).
    AgentBuildAdd,
    /// An agent was asked to update itself (the build).
    AgentUpdate,
    /// A fleet rollout of an agent version was started, halted, resumed or cancelled.
    AgentRollout,
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            AuditAction::JoinTokenCreate => "join_token.create",
            AuditAction::AgentRevoke => "agent.revoke",
            AuditAction::AgentPing => "agent.ping",
            AuditAction::AgentCollect => "agent.collect",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserDelete => "user.delete",
            AuditAction::ApiTokenCreate => "api_token.create",
            AuditAction::ApiTokenRevoke => "api_token.revoke",
            AuditAction::Container(kind) => return write!(formatter, "container.{kind}"),
            AuditAction::UpdatesCheck => "updates.check",
            AuditAction::UpdatePolicySet => "update_policy.set",
            AuditAction::MaintenanceWindowsSet => "maintenance_windows.set",
            AuditAction::RegistryCredentialsSet => "registry_credentials.set",
            AuditAction::RegistryCredentialsDelete => "registry_credentials.delete",
            AuditAction::SessionLogin => "session.login",
            AuditAction::SessionLoginFailed => "session.login_failed",
            AuditAction::SessionLogout => "session.logout",
            AuditAction::UserGroupsSet => "user.groups_set",
            AuditAction::UserPasswordSet => "user.password_set",
            AuditAction::GroupCreate => "group.create",
            AuditAction::GroupDelete => "group.delete",
            AuditAction::GroupRightSet => "group.right_set",
            AuditAction::HostGroupSet => "host_group.set",
            AuditAction::HostGroupDelete => "host_group.delete",
            AuditAction::HostLabelsSet => "host.labels_set",
            AuditAction::TotpEnable => "totp.enable",
            AuditAction::TotpDisable => "totp.disable",
            AuditAction::RecoveryCodesCreate => "recovery_codes.create",
            AuditAction::PasskeyAdd => "passkey.add",
            AuditAction::PasskeyDelete => "passkey.delete",
            AuditAction::SecondFactorPassed => "session.second_factor",
            AuditAction::SecondFactorFailed => "session.second_factor_failed",
            AuditAction::OidcLogin => "session.oidc_login",
            AuditAction::OidcUserCreate => "user.oidc_create",
            AuditAction::ManagedCertificateDeclare => "managed_certificate.declare",
            AuditAction::ManagedCertificateIssue => "managed_certificate.issue",
            AuditAction::ManagedCertificateIssueFailed => "managed_certificate.issue_failed",
            AuditAction::ManagedCertificateRenew => "managed_certificate.renew",
            AuditAction::ManagedCertificateRevoke => "managed_certificate.revoke",
            AuditAction::ManagedCertificateDelete => "managed_certificate.delete",
            AuditAction::SshCaCreate => "ssh_ca.create",
            AuditAction::SshUserCertificateSign => "ssh_ca.sign_user",
            AuditAction::SshHostConfigure => "ssh_ca.host_configure",
            AuditAction::SshHostConfigureFailed => "ssh_ca.host_configure_failed",
            AuditAction::SshHostEnable => "ssh_ca.host_enable",
            AuditAction::SshHostDisable => "ssh_ca.host_disable",
            AuditAction::SshUserCertificateRevoke => "ssh_ca.revoke_user",
            AuditAction::AgentlessAdd => "agentless.add",
            AuditAction::AgentlessConfirm => "agentless.confirm",
            AuditAction::AgentlessRemove => "agentless.remove",
            AuditAction::SecretSet => "secret.set",
            AuditAction::SecretDelete => "secret.delete",
            AuditAction::SecretScopeSet => "secret.scope_set",
            AuditAction::SecretDelivered => "secret.deliver",
            AuditAction::SecretRefused => "secret.refused",
            AuditAction::SealingKeyRotate => "sealing_key.rotate",
            AuditAction::DiskBaselineAccept => "disk.baseline_accept",
            AuditAction::SshAccess(event) => return write!(formatter, "ssh.{}", event.name()),
            AuditAction::ServiceCheckSet => "service_check.set",
            AuditAction::ServiceCheckDelete => "service_check.delete",
            AuditAction::AlertAcknowledge => "alert.acknowledge",
            AuditAction::AlertUnacknowledge => "alert.unacknowledge",
            AuditAction::AlertSilenceCreate => "alert.silence",
            AuditAction::AlertSilenceDelete => "alert.unsilence",
            AuditAction::AlertRuleSet => "alert_rule.set",
            AuditAction::AlertRuleDelete => "alert_rule.delete",
            AuditAction::ContainerLogs => "container.logs",
            AuditAction::ContainerLogsFollow => "container.logs_follow",
            AuditAction::ControllerBackup => "controller.backup",
            AuditAction::ControllerBackupFailed => "controller.backup_failed",
            AuditAction::ControllerRestore => "controller.restore",
            AuditAction::ReleaseKeyCreate => "release_key.create",
            AuditAction::ReleaseKeyRotate => "release_key.rotate",
            AuditAction::AgentBuildAdd => "agent_build.add",
            AuditAction::AgentUpdate => "agent.update",
            AuditAction::AgentRollout => "agent.rollout",
        };
        formatter.write_str(name)
    }
}

/// One audit entry as the API lists it.
#[derive(Debug, Serialize)]
pub struct AuditView {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
}

/// Records a change in the audit log. Note that this uses blocking I/O.
pub fn record(
    ctx: &Context,
    actor: &Actor,
    action: AuditAction,
    target: &str,
) -> Result<(), DomainError> {
    record_at(ctx, now_ms(), actor, action, target)
}

/// Records what `actor` did at `at_ms`. Note that this uses blocking I/O.
pub fn record_at(
    ctx: &Context,
    at_ms: i64,
    actor: &Actor,
    action: AuditAction,
    target: &str,
) -> Result<(), DomainError> {
    record_in(&ctx.store, at_ms, actor, action, target)
}

/// Records what `actor` did in `store`, which need not be the running controller's (a
/// restored one). Note that this uses blocking I/O.
pub fn record_in(
    store: &crate::storage::Store,
    at_ms: i64,
    actor: &Actor,
    action: AuditAction,
    target: &str,
) -> Result<(), DomainError> {
    store.auth.audit(&AuditRecord {
        at_ms,
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_owned(),
    })?;
    Ok(())
}

/// The newest `limit` entries, newest first. Note that this uses blocking I/O.
pub fn recent(ctx: &Context, limit: usize) -> Result<Vec<AuditView>, DomainError> {
    Ok(ctx
        .store
        .auth
        .audit_log(limit)?
        .into_iter()
        .map(|record| AuditView {
            at_ms: record.at_ms,
            actor: record.actor,
            action: record.action,
            target: record.target,
        })
        .collect())
}

//! The fleet's certificates (issue 15, story 1): every host's newest certificate inventory
//! (files and TLS ports, as its agent found them), as one list sorted by expiry for the hosts a
//! caller sees, with days left, urgency and problems. The API, the Certificates page and the
//! alert rules read it. Revoked hosts are left out (their inventory is dropped at revocation).

use super::access::Visible;
use super::error::DomainError;
use crate::context::Context;
use crate::storage::agents::StateKind;
use unity_shared::model::certificate::{
    CertificateInventory, ChainProblem, FoundCertificate, InventoryProblem,
};
use unity_shared::proto::AgentId;

/// How soon a certificate needs attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Past its not-after.
    Expired,
    /// Within the shortest alert threshold (7 days by default).
    Critical,
    /// Within the longest alert threshold (21 days by default).
    Warning,
    Ok,
}

impl Urgency {
    /// The word the API returns.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Expired => "expired",
            Urgency::Critical => "critical",
            Urgency::Warning => "warning",
            Urgency::Ok => "ok",
        }
    }
}

/// One certificate of one host.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRow {
    pub agent_id: AgentId,
    pub hostname: String,
    /// When the agent took the inventory (Unix milliseconds).
    pub collected_at_ms: i64,
    pub certificate: FoundCertificate,
    /// Whole days until not-after (negative once expired).
    pub days_left: i64,
    pub urgency: Urgency,
}

/// A file or port a host could not read, with the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostProblem {
    pub agent_id: AgentId,
    pub hostname: String,
    pub problem: InventoryProblem,
}

/// The fleet's certificates as a caller sees them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetCertificates {
    /// Soonest expiry first.
    pub certificates: Vec<CertificateRow>,
    pub problems: Vec<HostProblem>,
    /// Hosts whose agent sent an inventory.
    pub hosts_reporting: usize,
    /// A host's round stopped at one of its caps.
    pub truncated: bool,
}

/// Whole days from `now_unix` to `not_after_unix`, rounded down (negative once past).
pub fn days_left(not_after_unix: i64, now_unix: i64) -> i64 {
    (not_after_unix - now_unix).div_euclid(86_400)
}

/// The urgency of a certificate that expires at `not_after_unix`, with the alert thresholds
/// in days (`[alerts] certificate_expiry_days`).
pub fn urgency(not_after_unix: i64, now_unix: i64, thresholds_days: &[u32]) -> Urgency {
    if not_after_unix <= now_unix {
        return Urgency::Expired;
    }
    let left = not_after_unix - now_unix;
    let within = |days: Option<&u32>| days.is_some_and(|days| left <= i64::from(*days) * 86_400);
    if within(thresholds_days.iter().min()) {
        Urgency::Critical
    } else if within(thresholds_days.iter().max()) {
        Urgency::Warning
    } else {
        Urgency::Ok
    }
}

/// A chain problem in words (the API's `message`, the page's text).
pub fn problem_text(problem: &ChainProblem) -> String {
    match problem {
        ChainProblem::Expired => "expired".into(),
        ChainProblem::NotYetValid => "not valid yet".into(),
        ChainProblem::SelfSigned => "self-signed: clients will warn".into(),
        ChainProblem::MissingIntermediate { issuer } => {
            format!("the server does not send the intermediate certificate ({issuer})")
        }
        ChainProblem::NameMismatch { name } => format!("not valid for the name {name}"),
        ChainProblem::WrongOrder => "the chain is in the wrong order".into(),
    }
}

/// A host's newest inventory with its collection time. Note that this uses blocking I/O.
pub fn of_host(
    ctx: &Context,
    agent_id: &AgentId,
) -> Result<Option<(i64, CertificateInventory)>, DomainError> {
    Ok(ctx.store.agents.latest(agent_id, StateKind::Certificates)?)
}

/// Every visible, unrevoked host's certificates (or `only` that host's), soonest expiry first.
/// Note that this uses blocking I/O.
pub fn list(
    ctx: &Context,
    visible: &Visible,
    only: Option<&str>,
    now_unix: i64,
) -> Result<FleetCertificates, DomainError> {
    let thresholds = &ctx.config.alerts.certificate_expiry_days;
    let mut fleet = FleetCertificates::default();
    for agent in ctx.store.agents.agents()? {
        if agent.revoked_at.is_some()
            || !visible.sees(&agent.agent_id)
            || only.is_some_and(|only| agent.agent_id.as_str() != only)
        {
            continue;
        }
        let Some((collected_at_ms, inventory)) = of_host(ctx, &agent.agent_id)? else {
            continue;
        };
        add_host(
            &mut fleet,
            &agent.agent_id,
            &agent.hostname,
            collected_at_ms,
            inventory,
            now_unix,
            thresholds,
        );
    }
    sort(&mut fleet.certificates);
    Ok(fleet)
}

/// One known host's certificates, soonest expiry first (empty when it never sent an
/// inventory). Note that this uses blocking I/O.
pub fn of_one_host(
    ctx: &Context,
    agent_id: &AgentId,
    hostname: &str,
    now_unix: i64,
) -> Result<FleetCertificates, DomainError> {
    let mut fleet = FleetCertificates::default();
    if let Some((collected_at_ms, inventory)) = of_host(ctx, agent_id)? {
        add_host(
            &mut fleet,
            agent_id,
            hostname,
            collected_at_ms,
            inventory,
            now_unix,
            &ctx.config.alerts.certificate_expiry_days,
        );
        sort(&mut fleet.certificates);
    }
    Ok(fleet)
}

/// Adds one host's inventory to `fleet` (unsorted).
pub fn add_host(
    fleet: &mut FleetCertificates,
    agent_id: &AgentId,
    hostname: &str,
    collected_at_ms: i64,
    inventory: CertificateInventory,
    now_unix: i64,
    thresholds: &[u32],
) {
    fleet.hosts_reporting += 1;
    fleet.truncated |= inventory.truncated;
    for certificate in inventory.certificates {
        fleet.certificates.push(CertificateRow {
            agent_id: agent_id.clone(),
            hostname: hostname.to_owned(),
            collected_at_ms,
            days_left: days_left(certificate.not_after_unix, now_unix),
            urgency: urgency(certificate.not_after_unix, now_unix, thresholds),
            certificate,
        });
    }
    fleet
        .problems
        .extend(inventory.problems.into_iter().map(|problem| HostProblem {
            agent_id: agent_id.clone(),
            hostname: hostname.to_owned(),
            problem,
        }));
}

/// Soonest expiry first; then by host and subject, so the order is stable.
pub fn sort(rows: &mut [CertificateRow]) {
    rows.sort_by(|a, b| {
        a.certificate
            .not_after_unix
            .cmp(&b.certificate.not_after_unix)
            .then_with(|| a.hostname.cmp(&b.hostname))
            .then_with(|| a.certificate.subject.cmp(&b.certificate.subject))
            .then_with(|| a.certificate.position.cmp(&b.certificate.position))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_15_urgency_follows_the_thresholds() {
        let now = 1_000_000_000;
        let day = 86_400;
        let thresholds = [21, 7];
        assert_eq!(urgency(now - 1, now, &thresholds), Urgency::Expired);
        assert_eq!(urgency(now + 5 * day, now, &thresholds), Urgency::Critical);
        assert_eq!(urgency(now + 7 * day, now, &thresholds), Urgency::Critical);
        assert_eq!(urgency(now + 8 * day, now, &thresholds), Urgency::Warning);
        assert_eq!(urgency(now + 21 * day, now, &thresholds), Urgency::Warning);
        assert_eq!(urgency(now + 22 * day, now, &thresholds), Urgency::Ok);
        assert_eq!(urgency(now + day, now, &[]), Urgency::Ok);
        assert_eq!(days_left(now + 5 * day + 10, now), 5);
        assert_eq!(days_left(now - 10, now), -1);
    }
}

//! When a managed certificate is due (pure): never issued, or two thirds (the configured
//! fraction) of its lifetime gone; not while a failure's retry wait runs; never once revoked.
//! Waits after failures double from `retry_min` up to `retry_max`.

use crate::storage::managed_certificates::{IssuedRecord, ManagedCertificateRecord};
use std::time::Duration;

/// When the installed certificate should be replaced (Unix milliseconds).
pub fn renew_at_ms(issued: &IssuedRecord, fraction: f64) -> i64 {
    let lifetime_ms = (issued.not_after_unix * 1000 - issued.issued_at_ms).max(0);
    issued.issued_at_ms + (lifetime_ms as f64 * fraction) as i64
}

/// Whether the renewal loop should issue `record` now.
pub fn due(record: &ManagedCertificateRecord, now_ms: i64, fraction: f64) -> bool {
    let state = &record.state;
    if state.revoked_at_ms.is_some() {
        return false;
    }
    if state.renew_requested {
        return true;
    }
    if state.retry_at_ms.is_some_and(|retry_at| now_ms < retry_at) {
        return false;
    }
    match &state.issued {
        None => true,
        Some(issued) => now_ms >= renew_at_ms(issued, fraction),
    }
}

/// The wait after `failures` failures in a row (1 or more).
pub fn retry_delay(failures: u32, min: Duration, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    min.saturating_mul(1 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::managed_certificates::{IssuanceState, IssuerKind};
    use unity_shared::model::certificate::{CertificateFiles, CertificateName, KeyType};
    use unity_shared::proto::AgentId;

    fn record(state: IssuanceState) -> ManagedCertificateRecord {
        ManagedCertificateRecord {
            name: CertificateName::new("nas").unwrap(),
            host: AgentId::new("nas-1").unwrap(),
            dns_names: vec!["nas.home.arpa".into()],
            ip_addresses: Vec::new(),
            key_type: KeyType::EcdsaP256,
            lifetime_secs: 90,
            files: CertificateFiles::default(),
            reload: None,
            issuer: IssuerKind::ServicesCa,
            declared_by: "admin".into(),
            declared_at_ms: 0,
            state,
        }
    }

    #[test]
    fn issue_15_renewal_falls_due_at_two_thirds_of_the_lifetime() {
        let fraction = 2.0 / 3.0;
        assert!(due(&record(IssuanceState::default()), 0, fraction));
        let issued = IssuedRecord {
            serial_hex: "01".into(),
            not_after_unix: 90,
            issued_at_ms: 0,
            reloaded: true,
            chain_pem: String::new(),
        };
        assert_eq!(renew_at_ms(&issued, fraction), 60_000);
        let state = IssuanceState {
            issued: Some(issued),
            ..IssuanceState::default()
        };
        assert!(!due(&record(state.clone()), 59_999, fraction));
        assert!(due(&record(state.clone()), 60_000, fraction));
        let waiting = IssuanceState {
            retry_at_ms: Some(70_000),
            failures: 1,
            ..state.clone()
        };
        assert!(!due(&record(waiting.clone()), 65_000, fraction));
        let asked = IssuanceState {
            renew_requested: true,
            ..waiting.clone()
        };
        assert!(due(&record(asked), 1, fraction));
        assert!(due(&record(waiting), 70_000, fraction));
        let revoked = IssuanceState {
            revoked_at_ms: Some(1),
            ..state
        };
        assert!(!due(&record(revoked), 1_000_000, fraction));
    }

    #[test]
    fn retries_back_off_up_to_the_cap() {
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        let delays: Vec<u64> = (1..=8)
            .map(|failures| retry_delay(failures, min, max).as_secs())
            .collect();
        assert_eq!(delays, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(u32::MAX, min, max), max);
    }
}

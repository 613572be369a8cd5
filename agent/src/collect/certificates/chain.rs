//! What is wrong with a certificate and the chain it came in (pure): expired, not yet valid,
//! self-signed, out of order, missing its intermediate, not valid for the name it was served
//! for. The rules are in `docs/certificates/inventory.md`; each is decided here from the
//! decoded certificates, the time given and the names the host trusts.

use super::parse::Certificate;
use std::collections::HashSet;
use std::net::IpAddr;
use unity_shared::model::certificate::{ChainProblem, SubjectName};

/// What the checks need besides the certificates.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    pub now_unix: i64,
    /// The chain was served on a port (for files: `false`).
    pub served: bool,
    /// The name the chain was served for (the SNI sent), when there was one.
    pub served_name: Option<&'a str>,
    /// Subjects (DER) of the roots the host trusts.
    pub trusted_subjects: &'a HashSet<Vec<u8>>,
}

/// The problems of each certificate of `chain`, in the same order.
pub fn problems(chain: &[Certificate], checks: &Checks<'_>) -> Vec<Vec<ChainProblem>> {
    let mut all: Vec<Vec<ChainProblem>> = chain
        .iter()
        .map(|certificate| validity(certificate, checks.now_unix))
        .collect();
    let Some(leaf) = chain.first() else {
        return all;
    };
    // Chain rules apply to a leaf with its chain: a file of CA certificates alone (a root, an
    // intermediate) is a list, not a chain.
    let is_chain = checks.served || chain.iter().any(|certificate| !certificate.is_ca);
    if !is_chain {
        return all;
    }
    if leaf.self_issued() && (checks.served || !leaf.is_ca) {
        push(&mut all, 0, ChainProblem::SelfSigned);
    }
    for (index, pair) in chain.windows(2).enumerate() {
        if pair[0].issuer_der != pair[1].subject_der && !pair[0].self_issued() {
            push(&mut all, index, ChainProblem::WrongOrder);
        }
    }
    if checks.served {
        if let Some(last_index) = chain.len().checked_sub(1) {
            let last = &chain[last_index];
            let issuer_in_chain = chain
                .iter()
                .any(|certificate| certificate.subject_der == last.issuer_der);
            if !last.is_ca
                && !last.self_issued()
                && !issuer_in_chain
                && !checks.trusted_subjects.contains(&last.issuer_der)
            {
                push(
                    &mut all,
                    last_index,
                    ChainProblem::MissingIntermediate {
                        issuer: last.issuer.clone(),
                    },
                );
            }
        }
        if let Some(name) = checks.served_name {
            if !valid_for(leaf, name) {
                push(
                    &mut all,
                    0,
                    ChainProblem::NameMismatch {
                        name: name.to_owned(),
                    },
                );
            }
        }
    }
    all
}

fn push(all: &mut [Vec<ChainProblem>], index: usize, problem: ChainProblem) {
    if let Some(problems) = all.get_mut(index) {
        problems.push(problem);
    }
}

fn validity(certificate: &Certificate, now_unix: i64) -> Vec<ChainProblem> {
    if certificate.not_after_unix < now_unix {
        vec![ChainProblem::Expired]
    } else if certificate.not_before_unix > now_unix {
        vec![ChainProblem::NotYetValid]
    } else {
        Vec::new()
    }
}

/// The leaf is valid for `name`: a DNS name (with a left-most `*` label matching one label),
/// an IP address, or, when the certificate has no DNS names, its common name. A short host
/// name (no dot) also matches a certificate for that host's full name (`nas` and
/// `nas.home.arpa`): the agent probes with the host name, clients use the full one.
pub fn valid_for(leaf: &Certificate, name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Ok(ip) = name.parse::<IpAddr>() {
        return leaf.names.contains(&SubjectName::Ip(ip));
    }
    let mut dns: Vec<String> = leaf
        .names
        .iter()
        .filter_map(|subject| match subject {
            SubjectName::Dns(dns) => Some(dns.trim_end_matches('.').to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    if dns.is_empty() {
        dns.extend(common_name(&leaf.subject).map(|cn| cn.to_ascii_lowercase()));
    }
    dns.iter().any(|pattern| {
        dns_matches(pattern, &name)
            || (!name.contains('.') && pattern.split('.').next() == Some(name.as_str()))
    })
}

fn dns_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
        None => pattern == name,
    }
}

/// The first `CN=` of an RFC 4514 string (escapes left as they are).
fn common_name(subject: &str) -> Option<&str> {
    subject.split(',').find_map(|part| part.strip_prefix("CN="))
}

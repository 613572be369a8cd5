//! DNS-01 through RFC 2136 dynamic updates signed with TSIG (RFC 8945): add the TXT record
//! to the zone's primary, ask the same server until it answers the record, delete exactly
//! that record afterwards. Messages and signatures are `hickory-proto`'s; the exchange is
//! DNS over TCP (RFC 7766), one message each way, and the server's answer must carry a valid
//! TSIG too.

use super::{DnsError, DnsSolver, PresentedRecord, SolverFuture};
use crate::acme::settings::Rfc2136Settings;
use base64::Engine;
use hickory_proto::op::{update_message, Message, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, RecordSet, RecordType, TSigner};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// TTL of the challenge record: short, it lives for minutes.
const RECORD_TTL: u32 = 60;
/// Allowed clock difference with the server (RFC 8945 recommends 300 s).
const FUDGE_SECS: u16 = 300;
/// How often the server is asked whether it answers the record.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Dynamic updates to one zone on one server.
pub struct Rfc2136Solver {
    server: String,
    zone: Name,
    signer: TSigner,
    timeout: Duration,
    propagation_timeout: Duration,
}

impl std::fmt::Debug for Rfc2136Solver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136Solver")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

/// `hmac-sha256` and friends as TSIG knows them.
fn algorithm(name: &str) -> Result<TsigAlgorithm, DnsError> {
    match name {
        "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
        other => Err(DnsError::Message(format!(
            "unsupported TSIG algorithm {other}"
        ))),
    }
}

fn name(text: &str) -> Result<Name, DnsError> {
    let mut name =
        Name::from_ascii(text).map_err(|error| DnsError::Message(format!("{text:?}: {error}")))?;
    name.set_fqdn(true);
    Ok(name)
}

/// The update that adds (`add`) or deletes exactly the TXT record `record` = `value` in
/// `zone`. Pure.
pub fn update(zone: &Name, record: &Name, value: &str, add: bool) -> Message {
    let mut rrset = RecordSet::with_ttl(record.clone(), RecordType::TXT, RECORD_TTL);
    rrset.add_rdata(RData::TXT(TXT::new(vec![value.to_owned()])));
    if add {
        update_message::append(rrset, zone.clone(), false, false)
    } else {
        update_message::delete_by_rdata(rrset, zone.clone(), false)
    }
}

/// Whether `answer` (to a TXT query) holds `value`. Pure.
pub fn answers_value(answer: &Message, value: &str) -> bool {
    answer.answers.iter().any(|record| match &record.data {
        RData::TXT(txt) => {
            let joined: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|part| part.iter().copied())
                .collect();
            joined == value.as_bytes()
        }
        _ => false,
    })
}

impl Rfc2136Solver {
    pub fn new(
        settings: &Rfc2136Settings,
        timeout: Duration,
        propagation_timeout: Duration,
    ) -> Result<Rfc2136Solver, DnsError> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(settings.secret.0.as_bytes())
            .map_err(|error| DnsError::Message(format!("TSIG secret is not base64: {error}")))?;
        let signer = TSigner::new(
            key,
            algorithm(&settings.algorithm)?,
            name(&settings.key_name)?,
            FUDGE_SECS,
        )
        .map_err(|error| DnsError::Message(error.to_string()))?;
        let server = if settings.server.parse::<std::net::SocketAddr>().is_ok() {
            settings.server.clone()
        } else if let Ok(ip) = settings.server.parse::<std::net::IpAddr>() {
            std::net::SocketAddr::new(ip, 53).to_string()
        } else if settings.server.contains(':') {
            settings.server.clone()
        } else {
            format!("{}:53", settings.server)
        };
        Ok(Rfc2136Solver {
            server,
            zone: name(&settings.zone)?,
            signer,
            timeout,
            propagation_timeout,
        })
    }

    fn transport(&self, message: impl std::fmt::Display) -> DnsError {
        DnsError::Transport {
            server: self.server.clone(),
            message: message.to_string(),
        }
    }

    /// One message to the server over TCP and its answer's bytes.
    async fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, DnsError> {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(&self.server).await?;
            let length = u16::try_from(request.len()).map_err(std::io::Error::other)?;
            let mut framed = Vec::with_capacity(request.len() + 2);
            framed.extend_from_slice(&length.to_be_bytes());
            framed.extend_from_slice(request);
            stream.write_all(&framed).await?;
            let length = stream.read_u16().await?;
            let mut answer = vec![0u8; usize::from(length)];
            stream.read_exact(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| self.transport(format!("no answer within {:?}", self.timeout)))?
            .map_err(|error| self.transport(error))
    }

    /// Sends a signed update and checks the signed answer says NOERROR.
    async fn send_update(&self, record: &Name, value: &str, add: bool) -> Result<(), DnsError> {
        if !self.zone.zone_of(record) {
            return Err(DnsError::OutsideZone {
                name: record.to_string(),
                zone: self.zone.to_string(),
            });
        }
        let mut message = update(&self.zone, record, value, add);
        let now = u64::try_from(crate::clock::now_ms() / 1000).unwrap_or_default();
        let verifier = message
            .finalize(&self.signer, now)
            .map_err(|error| DnsError::Message(error.to_string()))?;
        let bytes = message
            .to_vec()
            .map_err(|error| DnsError::Message(error.to_string()))?;
        let answer = self.exchange(&bytes).await?;
        let response = match verifier {
            Some(mut verifier) => verifier
                .verify(&answer)
                .map(|response| response.response_code),
            None => Message::from_vec(&answer)
                .map(|message| message.metadata.response_code)
                .map_err(|error| error.to_string().into()),
        };
        let rcode = match response {
            Ok(rcode) => rcode,
            // An unsigned error answer (a wrong key gets NOTAUTH/BADKEY without a MAC).
            Err(error) => match Message::from_vec(&answer) {
                Ok(message) if message.metadata.response_code != ResponseCode::NoError => {
                    message.metadata.response_code
                }
                _ => return Err(self.transport(format!("answer not verified: {error}"))),
            },
        };
        if rcode != ResponseCode::NoError {
            return Err(DnsError::Refused {
                server: self.server.clone(),
                rcode: rcode.to_string(),
            });
        }
        Ok(())
    }

    /// Whether the server answers `record` TXT with `value` now.
    async fn answers(&self, record: &Name, value: &str) -> Result<bool, DnsError> {
        Ok(answers_value(&self.query_txt(record).await?, value))
    }

    /// The TXT values the server answers for `record` now (for checks and tests).
    pub async fn txt_values(&self, record: &str) -> Result<Vec<String>, DnsError> {
        let answer = self.query_txt(&name(record)?).await?;
        Ok(answer
            .answers
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    /// Asks the server (not recursively) for `record` TXT.
    async fn query_txt(&self, record: &Name) -> Result<Message, DnsError> {
        let mut query = Message::query();
        query.metadata.recursion_desired = false;
        query.add_query(Query::query(record.clone(), RecordType::TXT));
        let bytes = query
            .to_vec()
            .map_err(|error| DnsError::Message(error.to_string()))?;
        let answer = self.exchange(&bytes).await?;
        Message::from_vec(&answer).map_err(|error| self.transport(error))
    }

    async fn present_record(&self, record: &str, value: &str) -> Result<PresentedRecord, DnsError> {
        let record_name = name(record)?;
        self.send_update(&record_name, value, true).await?;
        tracing::info!(server = %self.server, record, "DNS-01 record added.");
        let waited = async {
            loop {
                if self.answers(&record_name, value).await? {
                    return Ok::<_, DnsError>(());
                }
                tokio::time::sleep(POLL_EVERY).await;
            }
        };
        let presented = PresentedRecord {
            name: record.trim_end_matches('.').to_owned(),
            value: value.to_owned(),
            id: None,
        };
        match tokio::time::timeout(self.propagation_timeout, waited).await {
            Ok(Ok(())) => Ok(presented),
            Ok(Err(error)) => {
                let _ = self.send_update(&record_name, value, false).await;
                Err(error)
            }
            Err(_) => {
                let _ = self.send_update(&record_name, value, false).await;
                Err(DnsError::NotPropagated {
                    name: record.to_owned(),
                    server: self.server.clone(),
                    seconds: self.propagation_timeout.as_secs(),
                })
            }
        }
    }
}

impl DnsSolver for Rfc2136Solver {
    fn present<'a>(&'a self, name: &'a str, value: &'a str) -> SolverFuture<'a, PresentedRecord> {
        Box::pin(self.present_record(name, value))
    }

    fn cleanup<'a>(&'a self, record: &'a PresentedRecord) -> SolverFuture<'a, ()> {
        Box::pin(async move {
            self.send_update(&name(&record.name)?, &record.value, false)
                .await?;
            tracing::info!(server = %self.server, record = %record.name, "DNS-01 record removed.");
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_adds_and_deletes_exactly_one_txt() {
        let zone = name("home.test").unwrap();
        let record = name("_acme-challenge.x.home.test").unwrap();
        let add = update(&zone, &record, "abc", true);
        assert_eq!(add.authorities.len(), 1);
        assert_eq!(
            add.authorities[0].dns_class,
            hickory_proto::rr::DNSClass::IN
        );
        let delete = update(&zone, &record, "abc", false);
        // Delete an RR from an RRset: class NONE, TTL 0 (RFC 2136 2.5.4).
        assert_eq!(
            delete.authorities[0].dns_class,
            hickory_proto::rr::DNSClass::NONE
        );
        assert_eq!(delete.authorities[0].ttl, 0);
    }

    #[test]
    fn unsupported_algorithms_are_refused() {
        assert!(algorithm("hmac-md5").is_err());
        assert!(algorithm("hmac-sha256").is_ok());
    }
}

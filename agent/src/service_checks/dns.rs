//! DNS checks against an explicit server, the pure part: the query message ([`query`]), the
//! answer read back ([`read`]) and what it means for the check ([`judge`]). The message
//! format is `simple-dns`'s; [`super::net`] sends it over UDP and, when the answer is
//! truncated, again over TCP.
//!
//! The check asks for A records (AAAA when the expected address is IPv6), follows CNAMEs
//! within the answer, and is down with a clear reason on NXDOMAIN, SERVFAIL, REFUSED, an empty
//! answer or other addresses than the expected one.

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, RCODE, TYPE};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a query could not be made or an answer not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("{0:?} is not a DNS name")]
    BadName(String),
    #[error("{0:?} is not a server address (an IP address, optionally with :port)")]
    BadServer(String),
    #[error("the answer is not a DNS message: {0}")]
    BadAnswer(String),
    #[error("the answer is for another query (id {got}, expected {wanted})")]
    OtherQuery { got: u16, wanted: u16 },
}

/// The server's address: an IP address, with a port (`[v6]:port` for IPv6) or 53.
pub fn server_address(text: &str) -> Result<SocketAddr, DnsError> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| DnsError::BadServer(text.to_owned()))
}

/// The query for `name`'s addresses (AAAA when `v6`), with recursion desired (so a resolver
/// answers too, not only the zone's authority).
pub fn query(id: u16, name: &str, v6: bool) -> Result<Vec<u8>, DnsError> {
    let name = name.trim().trim_end_matches('.');
    if name.split('.').any(str::is_empty) {
        return Err(DnsError::BadName(name.to_owned()));
    }
    let qname = Name::new(name).map_err(|_| DnsError::BadName(name.to_owned()))?;
    let mut packet = Packet::new_query(id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED);
    let qtype = if v6 { TYPE::AAAA } else { TYPE::A };
    packet
        .questions
        .push(Question::new(qname, qtype.into(), CLASS::IN.into(), false));
    packet
        .build_bytes_vec()
        .map_err(|_| DnsError::BadName(name.to_owned()))
}

/// What a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The message did not fit in the datagram: ask again over TCP.
    pub truncated: bool,
    /// The response code's name (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...).
    pub rcode: &'static str,
    pub addresses: Vec<IpAddr>,
    /// The names the answer's CNAMEs point to, in order.
    pub aliases: Vec<String>,
}

fn rcode_word(rcode: RCODE) -> &'static str {
    match rcode {
        RCODE::NoError => "NOERROR",
        RCODE::FormatError => "FORMERR",
        RCODE::ServerFailure => "SERVFAIL",
        RCODE::NameError => "NXDOMAIN",
        RCODE::NotImplemented => "NOTIMP",
        RCODE::Refused => "REFUSED",
        _ => "an error code",
    }
}

/// Reads the answer to the query with `id`.
pub fn read(id: u16, bytes: &[u8]) -> Result<Answer, DnsError> {
    let packet = Packet::parse(bytes).map_err(|error| DnsError::BadAnswer(error.to_string()))?;
    if packet.id() != id {
        return Err(DnsError::OtherQuery {
            got: packet.id(),
            wanted: id,
        });
    }
    if !packet.has_flags(PacketFlag::RESPONSE) {
        return Err(DnsError::BadAnswer("a query, not a response".into()));
    }
    let mut addresses = Vec::new();
    let mut aliases = Vec::new();
    for record in &packet.answers {
        match &record.rdata {
            RData::A(a) => addresses.push(IpAddr::V4(Ipv4Addr::from(a.address))),
            RData::AAAA(aaaa) => addresses.push(IpAddr::V6(Ipv6Addr::from(aaaa.address))),
            RData::CNAME(cname) => aliases.push(cname.0.to_string()),
            _ => {}
        }
    }
    Ok(Answer {
        truncated: packet.has_flags(PacketFlag::TRUNCATION),
        rcode: rcode_word(packet.rcode()),
        addresses,
        aliases,
    })
}

/// The check's verdict on `answer` for `name` from `server`: `Ok` when up, else the reason.
pub fn judge(
    name: &str,
    server: &SocketAddr,
    answer: &Answer,
    expected: Option<IpAddr>,
) -> Result<(), String> {
    match answer.rcode {
        "NOERROR" => {}
        "NXDOMAIN" => return Err(format!("{name} does not exist (NXDOMAIN from {server})")),
        "SERVFAIL" => return Err(format!("{server} failed to answer for {name} (SERVFAIL)")),
        other => return Err(format!("{server} answered {other} for {name}")),
    }
    let found: Vec<String> = answer.addresses.iter().map(IpAddr::to_string).collect();
    match expected {
        _ if answer.addresses.is_empty() => Err(match answer.aliases.last() {
            Some(alias) => {
                format!("{name} is an alias of {alias}, which has no address at {server}")
            }
            None => format!("{name} has no address at {server}"),
        }),
        Some(expected) if !answer.addresses.contains(&expected) => Err(format!(
            "{name} resolved to {} at {server}, not {expected}",
            found.join(", ")
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::rdata::{A, CNAME};
    use simple_dns::ResourceRecord;

    fn reply(id: u16, rcode: RCODE, records: Vec<ResourceRecord<'static>>) -> Vec<u8> {
        let mut packet = Packet::new_reply(id);
        *packet.rcode_mut() = rcode;
        packet.answers = records;
        packet.build_bytes_vec().unwrap()
    }

    fn a(name: &'static str, address: Ipv4Addr) -> ResourceRecord<'static> {
        ResourceRecord::new(
            Name::new_unchecked(name),
            CLASS::IN,
            60,
            RData::A(A::from(address)),
        )
    }

    #[test]
    fn issue_18_dns_query_reads_back_as_one_question() {
        let bytes = query(7, "nas.home.test.", false).unwrap();
        let packet = Packet::parse(&bytes).unwrap();
        assert_eq!(packet.id(), 7);
        assert!(packet.has_flags(PacketFlag::RECURSION_DESIRED));
        assert_eq!(packet.questions.len(), 1);
        assert_eq!(packet.questions[0].qname.to_string(), "nas.home.test");
        assert!(query(1, "a..b", false).is_err());
        assert!(query(1, &"x".repeat(70), false).is_err());
    }

    #[test]
    fn issue_18_dns_answers_and_their_verdicts() {
        let server = server_address("127.0.0.1:5353").unwrap();
        assert_eq!(server_address("::1").unwrap().port(), 53);
        assert_eq!(server_address("[::1]:54").unwrap().port(), 54);
        assert!(server_address("dns.example").is_err());

        let ip = Ipv4Addr::new(192, 0, 2, 10);
        let alias = ResourceRecord::new(
            Name::new_unchecked("www.home.test"),
            CLASS::IN,
            60,
            RData::CNAME(CNAME(Name::new_unchecked("nas.home.test"))),
        );
        let answer = read(
            9,
            &reply(9, RCODE::NoError, vec![alias, a("nas.home.test", ip)]),
        )
        .unwrap();
        assert_eq!(answer.aliases, ["nas.home.test"]);
        assert_eq!(answer.addresses, [IpAddr::V4(ip)]);
        assert!(judge("www", &server, &answer, Some(IpAddr::V4(ip))).is_ok());
        let wrong = judge("www", &server, &answer, Some("192.0.2.99".parse().unwrap()));
        assert!(wrong.unwrap_err().contains("not 192.0.2.99"));

        let missing = read(9, &reply(9, RCODE::NameError, vec![])).unwrap();
        assert!(judge("gone", &server, &missing, None)
            .unwrap_err()
            .contains("NXDOMAIN"));
        let failed = read(9, &reply(9, RCODE::ServerFailure, vec![])).unwrap();
        assert!(judge("x", &server, &failed, None)
            .unwrap_err()
            .contains("SERVFAIL"));
        let empty = read(9, &reply(9, RCODE::NoError, vec![])).unwrap();
        assert!(judge("x", &server, &empty, None)
            .unwrap_err()
            .contains("no address"));

        // Someone else's answer, a query and garbage are errors, not verdicts.
        assert!(matches!(
            read(8, &reply(9, RCODE::NoError, vec![])),
            Err(DnsError::OtherQuery { got: 9, wanted: 8 })
        ));
        assert!(read(1, &query(1, "x.test", false).unwrap()).is_err());
        assert!(read(1, b"\x00\x01\x80").is_err());
        assert!(read(1, &[]).is_err());
    }
}

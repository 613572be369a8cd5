//! Which exporters to scrape (pure): the configured ones, and, when discovery is on, the ones
//! listening on this host on the default port of a well-known exporter (ports from the
//! Prometheus project's exporter port allocation list, 9100 to 9999, each as the exporter's
//! own documentation gives it).

use super::http::{self, Url};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use unity_shared::model::plugin::SourceKind;

/// Default ports of exporters a homelab is likely to run, and the name their series get
/// (`source="exporter/<name>"`).
pub const WELL_KNOWN: &[(u16, &str)] = &[
    (9100, "node"),
    (9101, "haproxy"),
    (9102, "statsd"),
    (9104, "mysqld"),
    (9113, "nginx"),
    (9115, "blackbox"),
    (9116, "snmp"),
    (9117, "apache"),
    (9119, "bind"),
    (9121, "redis"),
    (9134, "zfs"),
    (9150, "memcached"),
    (9153, "coredns"),
    (9154, "postfix"),
    (9187, "postgres"),
    (9199, "nut"),
    (9221, "pve"),
    (9225, "minecraft"),
    (9256, "process"),
    (9290, "ipmi"),
    (9400, "dcgm"),
    (9558, "systemd"),
    (9586, "wireguard"),
    (9617, "pihole"),
    (9633, "smartctl"),
    (9835, "nvidia_gpu"),
];

/// One exporter to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its series get `source="exporter/<name>"`.
    pub name: String,
    pub url: Url,
    /// A file holding a bearer token (Home Assistant's `/api/prometheus` wants one).
    pub bearer_token_file: Option<PathBuf>,
    /// Found listening, not configured.
    pub discovered: bool,
}

impl Target {
    /// The `source` label of its series.
    pub fn source(&self) -> String {
        format!("{}/{}", SourceKind::Exporter.as_str(), self.name)
    }
}

/// The well-known exporter on `port`, if any.
pub fn well_known(port: u16) -> Option<&'static str> {
    WELL_KNOWN
        .iter()
        .find(|(known, _)| *known == port)
        .map(|(_, name)| *name)
}

/// A configured exporter: its URL checked, its name given or taken from its port.
pub fn configured(
    url: &str,
    name: Option<&str>,
    bearer_token_file: Option<PathBuf>,
) -> Result<Target, String> {
    let url = http::parse_url(url).map_err(|error| error.to_string())?;
    let name = match name.map(str::trim) {
        Some(name) if name.is_empty() || name.contains(char::is_whitespace) => {
            return Err(format!("name {name:?}: expected a word without blanks"))
        }
        Some(name) => name.to_owned(),
        None => match well_known(url.port) {
            Some(name) => name.to_owned(),
            None => format!("port-{}", url.port),
        },
    };
    Ok(Target {
        name,
        url,
        bearer_token_file,
        discovered: false,
    })
}

/// Exporters listening on well-known ports where loopback reaches them (bound to loopback or
/// to every address), that no configured target covers already. `listening` is every TCP
/// listening socket (`/proc/net/tcp` and `tcp6`).
pub fn discover(listening: &[(IpAddr, u16)], configured: &[Target]) -> Vec<Target> {
    let mut found: Vec<Target> = Vec::new();
    for (ip, port) in listening {
        let Some(name) = well_known(*port) else {
            continue;
        };
        let via = match ip {
            IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() => {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            }
            _ => continue,
        };
        let covered = |target: &Target| target.url.port == *port && target.url.ip.is_loopback();
        if configured.iter().any(covered) {
            continue;
        }
        if let Some(existing) = found.iter_mut().find(|target| target.url.port == *port) {
            // Listening on both: IPv4 loopback it is.
            if via.is_ipv4() {
                existing.url.ip = via;
            }
            continue;
        }
        found.push(Target {
            name: name.to_owned(),
            url: Url {
                ip: via,
                port: *port,
                path: "/metrics".to_owned(),
            },
            bearer_token_file: None,
            discovered: true,
        });
    }
    found.sort_by_key(|target| target.url.port);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_targets_are_named_by_port_or_given_name() {
        let node = configured("http://127.0.0.1:9100/metrics", None, None).unwrap();
        assert_eq!(node.source(), "exporter/node");
        let other = configured("http://localhost:8080/metrics", None, None).unwrap();
        assert_eq!(other.name, "port-8080");
        let hass = configured("http://127.0.0.1:8123/api/prometheus", Some("hass"), None).unwrap();
        assert_eq!(hass.source(), "exporter/hass");
        assert!(configured("http://127.0.0.1:1/", Some("two words"), None).is_err());
        assert!(configured("http://192.168.1.2:9100/", None, None)
            .unwrap_err()
            .contains("only loopback"));
    }

    #[test]
    fn discovery_finds_well_known_ports_reachable_over_loopback() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let listening = [
            (v4(0, 0, 0, 0), 9100),
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 9100),
            (v4(127, 0, 0, 1), 9633),
            (IpAddr::V6(Ipv6Addr::LOCALHOST), 9199),
            (v4(192, 168, 1, 5), 9121),
            (v4(0, 0, 0, 0), 22),
            (v4(0, 0, 0, 0), 9187),
        ];
        let configured = [configured("http://127.0.0.1:9187/metrics", Some("pg"), None).unwrap()];
        let found: Vec<String> = discover(&listening, &configured)
            .iter()
            .map(|target| format!("{} {}", target.name, target.url))
            .collect();
        assert_eq!(
            found,
            [
                "node http://127.0.0.1:9100/metrics",
                "nut http://[::1]:9199/metrics",
                "smartctl http://127.0.0.1:9633/metrics",
            ]
        );
    }

    #[test]
    fn the_list_has_one_name_per_port() {
        let mut ports: Vec<u16> = WELL_KNOWN.iter().map(|(port, _)| *port).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), WELL_KNOWN.len());
        assert!(ports.iter().all(|port| (9100..=9999).contains(port)));
    }
}

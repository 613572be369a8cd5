//! The known-repositories table: images whose config names no source repository (most Docker
//! official images) and where their release notes are. An image is `repository` for Docker
//! Hub (`library/nginx`) or `registry/repository` elsewhere; the URL is the repository's page.
//! Add a line here when a popular image lacks `org.opencontainers.image.source`; an owner can
//! always set `unity.update.changelog=<url>` on a container instead.

/// `(image, repository URL)`, looked up after the labels.
pub const KNOWN_REPOSITORIES: &[(&str, &str)] = &[
    ("library/traefik", "https://github.com/traefik/traefik"),
    ("library/caddy", "https://github.com/caddyserver/caddy"),
    ("library/redis", "https://github.com/redis/redis"),
    ("library/valkey", "https://github.com/valkey-io/valkey"),
    ("library/nextcloud", "https://github.com/nextcloud/server"),
    (
        "library/registry",
        "https://github.com/distribution/distribution",
    ),
    ("library/mongo", "https://github.com/mongodb/mongo"),
    ("library/telegraf", "https://github.com/influxdata/telegraf"),
    ("library/influxdb", "https://github.com/influxdata/influxdb"),
    (
        "library/eclipse-mosquitto",
        "https://github.com/eclipse/mosquitto",
    ),
    ("library/ghost", "https://github.com/TryGhost/Ghost"),
    ("library/node", "https://github.com/nodejs/node"),
    ("grafana/grafana", "https://github.com/grafana/grafana"),
    (
        "prom/prometheus",
        "https://github.com/prometheus/prometheus",
    ),
    (
        "prom/node-exporter",
        "https://github.com/prometheus/node_exporter",
    ),
    (
        "portainer/portainer-ce",
        "https://github.com/portainer/portainer",
    ),
    ("jellyfin/jellyfin", "https://github.com/jellyfin/jellyfin"),
    (
        "vaultwarden/server",
        "https://github.com/dani-garcia/vaultwarden",
    ),
    (
        "louislam/uptime-kuma",
        "https://github.com/louislam/uptime-kuma",
    ),
    (
        "homeassistant/home-assistant",
        "https://github.com/home-assistant/core",
    ),
    ("pihole/pihole", "https://github.com/pi-hole/docker-pi-hole"),
    (
        "adguard/adguardhome",
        "https://github.com/AdguardTeam/AdGuardHome",
    ),
    ("gitea/gitea", "https://github.com/go-gitea/gitea"),
    (
        "containrrr/watchtower",
        "https://github.com/containrrr/watchtower",
    ),
    (
        "ghcr.io/immich-app/immich-server",
        "https://github.com/immich-app/immich",
    ),
    (
        "ghcr.io/paperless-ngx/paperless-ngx",
        "https://github.com/paperless-ngx/paperless-ngx",
    ),
    (
        "codeberg.org/forgejo/forgejo",
        "https://codeberg.org/forgejo/forgejo",
    ),
];

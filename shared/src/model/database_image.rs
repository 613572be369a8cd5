//! Which containers hold a database, and when an update changes a database's major version.
//! Pure: image references and label values in, answers out. The agent uses [`database_of`] to
//! decide whether an update takes a logical dump first; the controller uses
//! [`major_version_change`] to keep such an update out of the automatic path (and the
//! recommendation uses it as one of its reasons). See `docs/container-updates.md`, "Data safety
//! for databases".

use serde::{Deserialize, Serialize};

/// The label that names a container's database kind (`postgres`, `mysql`, `mariadb`, `redis`,
/// `valkey`, `mongo`), or `none` for no dump, whatever the image.
pub const BACKUP_LABEL: &str = "unity.update.backup";

/// A database whose data the agent can dump and restore. On the wire (appended to `Backup`):
/// append variants only.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseKind {
    /// PostgreSQL and its images (PostGIS, pgvector, TimescaleDB, Bitnami): `pg_dumpall`.
    Postgres,
    /// MySQL and Percona Server: `mysqldump --single-transaction --all-databases`.
    Mysql,
    /// MariaDB: `mariadb-dump --single-transaction --all-databases`.
    Mariadb,
    /// Redis and Valkey: `BGSAVE`, then the RDB file.
    Redis,
    /// MongoDB: `mongodump --archive`.
    Mongo,
}

impl DatabaseKind {
    /// The lower-case word (`postgres`), as in the label and on pages.
    pub fn word(self) -> &'static str {
        match self {
            DatabaseKind::Postgres => "postgres",
            DatabaseKind::Mysql => "mysql",
            DatabaseKind::Mariadb => "mariadb",
            DatabaseKind::Redis => "redis",
            DatabaseKind::Mongo => "mongo",
        }
    }

    /// The kind a label value names; `None` for anything else.
    pub fn from_word(word: &str) -> Option<DatabaseKind> {
        match word.trim().to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(DatabaseKind::Postgres),
            "mysql" | "percona" => Some(DatabaseKind::Mysql),
            "mariadb" => Some(DatabaseKind::Mariadb),
            "redis" | "valkey" => Some(DatabaseKind::Redis),
            "mongo" | "mongodb" => Some(DatabaseKind::Mongo),
            _ => None,
        }
    }

    /// The dump file's extension.
    pub fn dump_extension(self) -> &'static str {
        match self {
            DatabaseKind::Postgres | DatabaseKind::Mysql | DatabaseKind::Mariadb => "sql",
            DatabaseKind::Redis => "rdb",
            DatabaseKind::Mongo => "archive",
        }
    }
}

/// The database a container holds: the [`BACKUP_LABEL`] label when set (`none`, or a word
/// that names no kind: none), else what its image reference says ([`kind_of_image`]).
pub fn database_of(image_ref: &str, backup_label: Option<&str>) -> Option<DatabaseKind> {
    match backup_label {
        Some(word) => DatabaseKind::from_word(word),
        None => kind_of_image(image_ref),
    }
}

/// The repository path of a reference, lower-case, without registry host, tag or digest:
/// `ghcr.io/Org/App:1@sha256:..` -> `org/app`; Docker Hub's `library/` is dropped.
fn repository(reference: &str) -> String {
    let without_digest = reference.split('@').next().unwrap_or_default();
    let name_start = without_digest.rfind('/').map_or(0, |slash| slash + 1);
    let without_tag = match without_digest[name_start..].find(':') {
        Some(colon) => &without_digest[..name_start + colon],
        None => without_digest,
    };
    let mut parts: Vec<&str> = without_tag.split('/').collect();
    let first_is_host = parts.len() > 1
        && parts
            .first()
            .is_some_and(|first| first.contains(['.', ':']) || *first == "localhost");
    if first_is_host {
        parts.remove(0);
    }
    if parts.len() > 1 && parts.first() == Some(&"library") {
        parts.remove(0);
    }
    parts.join("/").to_ascii_lowercase()
}

/// The tag of a reference (`None`: no tag).
fn tag(reference: &str) -> Option<&str> {
    let without_digest = reference.split('@').next().unwrap_or_default();
    let name_start = without_digest.rfind('/').map_or(0, |slash| slash + 1);
    let name = &without_digest[name_start..];
    name.find(':').map(|colon| &name[colon + 1..])
}

/// The database an image reference names, by its repository's last component (any registry,
/// any organisation: `postgres`, `bitnami/postgresql`, `ghcr.io/x/mariadb`), or by a known
/// fork (`pgvector/pgvector`, `timescale/timescaledb`, `postgis/postgis`, `percona/...`,
/// `valkey/valkey`, `mongodb/mongodb-community-server`).
pub fn kind_of_image(image_ref: &str) -> Option<DatabaseKind> {
    let repository = repository(image_ref);
    let last = repository.rsplit('/').next().unwrap_or_default();
    match last {
        "postgres"
        | "postgresql"
        | "postgis"
        | "pgvector"
        | "timescaledb"
        | "timescaledb-ha"
        | "postgresql-repmgr"
        | "timescaledb-postgis" => Some(DatabaseKind::Postgres),
        "mysql" | "mysql-server" | "percona" | "percona-server" => Some(DatabaseKind::Mysql),
        "mariadb" | "mariadb-galera" => Some(DatabaseKind::Mariadb),
        "redis" | "redis-stack" | "redis-stack-server" | "valkey" | "keydb" => {
            Some(DatabaseKind::Redis)
        }
        "mongo" | "mongodb" | "mongodb-community-server" | "mongodb-enterprise-server" => {
            Some(DatabaseKind::Mongo)
        }
        _ => None,
    }
}

/// A database's major version (`15`, `8.0`, `10`): the numbers that decide whether the new
/// server reads the old one's data, by the vendor's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MajorVersion(Vec<u64>);

impl std::fmt::Display for MajorVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&words.join("."))
    }
}

/// The version numbers a tag starts with (`15.4-alpine` -> [15, 4], `v7.2` -> [7, 2]), or
/// those after `pg` in a Postgres-extension tag (`pg16`, `2.14.2-pg16`, `latest-pg15`).
fn tag_numbers(kind: DatabaseKind, tag: &str) -> Vec<u64> {
    let tag = tag.to_ascii_lowercase();
    let from = match (kind, tag.find("pg")) {
        (DatabaseKind::Postgres, Some(at)) => &tag[at + 2..],
        _ => tag.strip_prefix('v').unwrap_or(&tag),
    };
    let mut numbers = Vec::new();
    for part in from.split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u64>() {
            Ok(number) => numbers.push(number),
            Err(_) => break,
        }
        if digits.len() != part.len() {
            break;
        }
    }
    numbers
}

/// The major version a reference's tag names; `None` when the tag names none (`latest`, no
/// tag) or too little of it (`mysql:8`: 8.0 or 8.4?).
pub fn major_version(kind: DatabaseKind, image_ref: &str) -> Option<MajorVersion> {
    let numbers = tag_numbers(kind, tag(image_ref)?);
    let first = *numbers.first()?;
    let width = match kind {
        // 9.6 and before: two numbers; 10 and later: one.
        DatabaseKind::Postgres if first < 10 => 2,
        DatabaseKind::Postgres | DatabaseKind::Mariadb | DatabaseKind::Redis => 1,
        // 8.0, 8.4 (LTS) and every innovation release is its own series.
        DatabaseKind::Mysql => 2,
        // 4.4 and before: two numbers; 5.0 and later: one.
        DatabaseKind::Mongo if first < 5 => 2,
        DatabaseKind::Mongo => 1,
    };
    let major = numbers.get(..width)?.to_vec();
    Some(MajorVersion(major))
}

/// An update that changes a database's major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MajorChange {
    pub kind: DatabaseKind,
    pub from: MajorVersion,
    pub to: MajorVersion,
}

impl MajorChange {
    /// One paragraph for the owner: what changes and what to do, e.g. "postgres 15 → 16 needs a
    /// dump and restore: ...".
    pub fn reason(&self) -> String {
        let what = match self.kind {
            DatabaseKind::Postgres => {
                "needs a dump and restore: PostgreSQL cannot read another major version's data \
                 directory. Take a dump (pg_dumpall), start the new version on an empty data \
                 directory, restore the dump into it (or run pg_upgrade), then update with force"
            }
            DatabaseKind::Mysql | DatabaseKind::Mariadb => {
                "changes the on-disk format and cannot be downgraded in place: keep the dump \
                 taken before the update, update with force, then run the upgrade tool \
                 (mariadb-upgrade / mysql_upgrade) if the image does not"
            }
            DatabaseKind::Redis => {
                "writes an RDB format the old version cannot read: a rollback needs the dump \
                 taken before the update; check the release notes, then update with force"
            }
            DatabaseKind::Mongo => {
                "must go one major version at a time with featureCompatibilityVersion set to \
                 the old version first: dump with mongodump, follow MongoDB's upgrade steps, \
                 then update with force"
            }
        };
        format!("{} {} → {} {what}", self.kind.word(), self.from, self.to)
    }
}

/// Whether updating from `current_ref` to `candidate_ref` changes a database's major version:
/// both name the same kind of database and their tags name different major versions (a
/// downgrade counts too). `None` when either tag names no version (`latest`, a digest only):
/// nothing can be told from the reference.
pub fn major_version_change(current_ref: &str, candidate_ref: &str) -> Option<MajorChange> {
    let kind = kind_of_image(current_ref)?;
    let candidate_kind = kind_of_image(candidate_ref)?;
    if kind != candidate_kind {
        return None;
    }
    let from = major_version(kind, current_ref)?;
    let to = major_version(kind, candidate_ref)?;
    (from != to).then_some(MajorChange { kind, from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn kind(image: &str, expected: Option<DatabaseKind>) {
        assert_eq!(kind_of_image(image), expected, "{image}");
    }

    #[test]
    fn issue_17_recognises_database_images() {
        use DatabaseKind::*;
        kind("postgres", Some(Postgres));
        kind("postgres:16.2-alpine", Some(Postgres));
        kind("docker.io/library/postgres:15", Some(Postgres));
        kind("bitnami/postgresql:16.2.0-debian-12-r5", Some(Postgres));
        kind("pgvector/pgvector:pg16", Some(Postgres));
        kind("timescale/timescaledb:2.14.2-pg16", Some(Postgres));
        kind("ghcr.io/immich-app/postgres@sha256:00", Some(Postgres));
        kind("postgis/postgis:16-3.4", Some(Postgres));
        kind("mysql:8.4", Some(Mysql));
        kind("percona/percona-server:8.0", Some(Mysql));
        kind("percona:8.0", Some(Mysql));
        kind("mariadb:11.4", Some(Mariadb));
        kind("lscr.io/linuxserver/mariadb:latest", Some(Mariadb));
        kind("redis:7-alpine", Some(Redis));
        kind("valkey/valkey:8", Some(Redis));
        kind("127.0.0.1:5000/lab/redis:7.2", Some(Redis));
        kind("mongo:7.0", Some(Mongo));
        kind("mongodb/mongodb-community-server:7.0-ubi8", Some(Mongo));
        kind("nginx:1.25", None);
        kind("postgres-exporter", None);
        kind("prometheuscommunity/postgres-exporter:v0.15", None);
        kind("localhost:5000/postgresql-backup:1", None);
        kind("redisinsight/redisinsight:latest", None);
    }

    #[test]
    fn issue_17_the_label_wins_over_the_image() {
        assert_eq!(
            database_of("nginx:1", Some("postgres")),
            Some(DatabaseKind::Postgres)
        );
        assert_eq!(database_of("postgres:16", Some("none")), None);
        assert_eq!(database_of("postgres:16", Some("rsync")), None);
        assert_eq!(database_of("redis:7", None), Some(DatabaseKind::Redis));
        assert_eq!(
            database_of("x/app:1", Some(" Valkey ")),
            Some(DatabaseKind::Redis)
        );
    }

    #[track_caller]
    fn change(current: &str, candidate: &str, expected: Option<&str>) {
        let found = major_version_change(current, candidate)
            .map(|change| format!("{} {} -> {}", change.kind.word(), change.from, change.to));
        assert_eq!(found.as_deref(), expected, "{current} -> {candidate}");
    }

    #[test]
    fn issue_17_major_version_changes_by_vendor_rules() {
        change("postgres:15", "postgres:16", Some("postgres 15 -> 16"));
        change("postgres:15.4", "postgres:15.6-alpine", None);
        change("postgres:9.5", "postgres:9.6", Some("postgres 9.5 -> 9.6"));
        change(
            "pgvector/pgvector:pg15",
            "pgvector/pgvector:pg16",
            Some("postgres 15 -> 16"),
        );
        change(
            "timescale/timescaledb:2.13.0-pg15",
            "timescale/timescaledb:2.14.2-pg15",
            None,
        );
        change(
            "bitnami/postgresql:15.5.0",
            "bitnami/postgresql:16.1.0",
            Some("postgres 15 -> 16"),
        );
        change("mariadb:10.11", "mariadb:11.4", Some("mariadb 10 -> 11"));
        change("mariadb:10.6", "mariadb:10.11", None);
        change("mysql:8.0.36", "mysql:8.4.0", Some("mysql 8.0 -> 8.4"));
        change("mysql:8.0.35", "mysql:8.0.36", None);
        change("mysql:8", "mysql:8.4", None);
        change("redis:6.2", "redis:7.2", Some("redis 6 -> 7"));
        change("redis:7.0-alpine", "redis:7.2-alpine", None);
        change("mongo:6.0", "mongo:7.0", Some("mongo 6 -> 7"));
        change("mongo:4.2", "mongo:4.4", Some("mongo 4.2 -> 4.4"));
        change("postgres:16", "postgres:15", Some("postgres 16 -> 15"));
        change("postgres:latest", "postgres:16", None);
        change("postgres:15", "postgres@sha256:00", None);
        change("nginx:1", "nginx:2", None);
        change("redis:6", "valkey/valkey:8", Some("redis 6 -> 8"));
        change("postgres:15", "mariadb:16", None);
    }

    #[test]
    fn issue_17_the_reason_says_what_to_do() {
        let change = major_version_change("postgres:15", "postgres:16").unwrap();
        let reason = change.reason();
        assert!(
            reason.starts_with("postgres 15 → 16 needs a dump and restore"),
            "{reason}"
        );
        assert!(reason.contains("with force"), "{reason}");
    }

    #[test]
    fn kinds_round_trip_through_their_words() {
        use DatabaseKind::*;
        for kind in [Postgres, Mysql, Mariadb, Redis, Mongo] {
            assert_eq!(DatabaseKind::from_word(kind.word()), Some(kind));
        }
    }
}

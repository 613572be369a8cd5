//! What a database dump and its restore run inside the container, and whether a finished dump
//! is complete. Pure: the container's environment in, commands and verdicts out (credentials
//! go into the exec's environment, never onto a command line the agent logs). `dump.rs` runs
//! them; see `docs/container-updates.md`, "Data safety for databases".

use unity_shared::model::database_image::DatabaseKind;

/// One command run inside the container with `docker exec`.
#[derive(Clone, PartialEq, Eq)]
pub struct ExecCommand {
    pub cmd: Vec<String>,
    /// Added to the exec's environment; may hold a password: never logged.
    pub env: Vec<String>,
}

impl std::fmt::Debug for ExecCommand {
    /// Names the variables, never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .env
            .iter()
            .map(|entry| entry.split('=').next().unwrap_or_default())
            .collect();
        f.debug_struct("ExecCommand")
            .field("cmd", &self.cmd)
            .field("env", &names)
            .finish()
    }
}

impl ExecCommand {
    fn new(cmd: &[&str], env: Vec<String>) -> ExecCommand {
        ExecCommand {
            cmd: cmd.iter().map(|part| (*part).to_owned()).collect(),
            env,
        }
    }
}

/// The value of `key` in a container's `KEY=value` environment (empty values count as unset).
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .filter_map(|entry| entry.split_once('='))
        .find(|(name, value)| *name == key && !value.is_empty())
        .map(|(_, value)| value)
}

/// The database user the dump and restore connect as, and the variables that carry its
/// password, for PostgreSQL (`POSTGRES_USER`, default `postgres`; `POSTGRES_PASSWORD`).
fn postgres_login(env: &[String]) -> (String, Vec<String>) {
    let user = env_value(env, "POSTGRES_USER")
        .unwrap_or("postgres")
        .to_owned();
    let password = env_value(env, "POSTGRES_PASSWORD").or_else(|| {
        env_value(env, "POSTGRESQL_POSTGRES_PASSWORD")
            .or_else(|| env_value(env, "POSTGRESQL_PASSWORD"))
    });
    let extra = password
        .map(|password| vec![format!("PGPASSWORD={password}")])
        .unwrap_or_default();
    (user, extra)
}

/// The user and `MYSQL_PWD` for MySQL and MariaDB: root with `MARIADB_ROOT_PASSWORD` /
/// `MYSQL_ROOT_PASSWORD` when set, else the application user `MARIADB_USER` / `MYSQL_USER`
/// with its password (which may not see every database).
fn mysql_login(env: &[String]) -> (String, Vec<String>) {
    let root =
        env_value(env, "MARIADB_ROOT_PASSWORD").or_else(|| env_value(env, "MYSQL_ROOT_PASSWORD"));
    if let Some(password) = root {
        return ("root".to_owned(), vec![format!("MYSQL_PWD={password}")]);
    }
    let user = env_value(env, "MARIADB_USER").or_else(|| env_value(env, "MYSQL_USER"));
    let password = env_value(env, "MARIADB_PASSWORD").or_else(|| env_value(env, "MYSQL_PASSWORD"));
    match (user, password) {
        (Some(user), Some(password)) => (user.to_owned(), vec![format!("MYSQL_PWD={password}")]),
        _ => ("root".to_owned(), Vec::new()),
    }
}

/// `REDISCLI_AUTH` from `REDIS_PASSWORD` (Bitnami) when set.
fn redis_auth(env: &[String]) -> Vec<String> {
    env_value(env, "REDIS_PASSWORD")
        .map(|password| vec![format!("REDISCLI_AUTH={password}")])
        .unwrap_or_default()
}

/// The commands that write a complete logical dump to stdout, to try in order (the first whose
/// program exists): `pg_dumpall`, `mariadb-dump` then `mysqldump`, `mongodump --archive`.
/// Redis has none: see [`redis_cli`].
pub fn dump_commands(kind: DatabaseKind, env: &[String]) -> Vec<ExecCommand> {
    match kind {
        DatabaseKind::Postgres => {
            let (user, extra) = postgres_login(env);
            let cmd = ["pg_dumpall", "--clean", "--if-exists", "-U", &user];
            vec![ExecCommand::new(&cmd, extra)]
        }
        DatabaseKind::Mysql | DatabaseKind::Mariadb => {
            let (user, extra) = mysql_login(env);
            let args = [
                "--single-transaction",
                "--all-databases",
                "--routines",
                "--events",
                "-u",
                &user,
            ];
            let programs: &[&str] = match kind {
                DatabaseKind::Mariadb => &["mariadb-dump", "mysqldump"],
                _ => &["mysqldump"],
            };
            programs
                .iter()
                .map(|program| {
                    let mut cmd = vec![*program];
                    cmd.extend(args);
                    ExecCommand::new(&cmd, extra.clone())
                })
                .collect()
        }
        DatabaseKind::Mongo => {
            let user = env_value(env, "MONGO_INITDB_ROOT_USERNAME");
            let password = env_value(env, "MONGO_INITDB_ROOT_PASSWORD");
            let mut cmd = vec!["mongodump".to_owned(), "--archive".to_owned()];
            if let (Some(user), Some(password)) = (user, password) {
                cmd.extend([
                    format!("--username={user}"),
                    format!("--password={password}"),
                    "--authenticationDatabase=admin".to_owned(),
                ]);
            }
            vec![ExecCommand {
                cmd,
                env: Vec::new(),
            }]
        }
        DatabaseKind::Redis => Vec::new(),
    }
}

/// The commands that read a dump from stdin back into the running server, in order of
/// preference: `psql`, `mariadb` then `mysql`, `mongorestore --archive --drop`. Redis has none:
/// its RDB file is copied in before the server starts.
pub fn restore_commands(kind: DatabaseKind, env: &[String]) -> Vec<ExecCommand> {
    match kind {
        DatabaseKind::Postgres => {
            let (user, extra) = postgres_login(env);
            let cmd = ["psql", "-X", "-q", "-U", &user, "-d", "postgres"];
            vec![ExecCommand::new(&cmd, extra)]
        }
        DatabaseKind::Mysql | DatabaseKind::Mariadb => {
            let (user, extra) = mysql_login(env);
            ["mariadb", "mysql"]
                .iter()
                .map(|program| ExecCommand::new(&[program, "-u", &user], extra.clone()))
                .collect()
        }
        DatabaseKind::Mongo => {
            let mut commands = dump_commands(kind, env);
            for command in &mut commands {
                if let Some(program) = command.cmd.first_mut() {
                    *program = "mongorestore".to_owned();
                }
                command.cmd.push("--drop".to_owned());
            }
            commands
        }
        DatabaseKind::Redis => Vec::new(),
    }
}

/// One `redis-cli` call (`BGSAVE`, `LASTSAVE`, `CONFIG GET dir`).
pub fn redis_cli(env: &[String], args: &[&str]) -> ExecCommand {
    let mut cmd = vec!["redis-cli"];
    cmd.extend(args);
    ExecCommand::new(&cmd, redis_auth(env))
}

/// How a server answers when ready (exit 0): `pg_isready`, `mariadb-admin ping`.
pub fn ready_command(kind: DatabaseKind, env: &[String]) -> Option<ExecCommand> {
    match kind {
        DatabaseKind::Postgres => {
            let (user, extra) = postgres_login(env);
            Some(ExecCommand::new(&["pg_isready", "-q", "-U", &user], extra))
        }
        DatabaseKind::Mariadb => Some(ExecCommand::new(&["mariadb-admin", "ping"], Vec::new())),
        DatabaseKind::Mysql => Some(ExecCommand::new(&["mysqladmin", "ping"], Vec::new())),
        DatabaseKind::Redis | DatabaseKind::Mongo => None,
    }
}

/// Why a finished dump is not to be trusted; `None` when it looks complete: non-empty, and
/// `pg_dumpall` ended with "PostgreSQL database cluster dump complete", `mysqldump` with
/// "-- Dump completed", an RDB file starts with `REDIS` and ends with the EOF opcode and its
/// checksum, a mongodump archive starts with its magic number. `head` is the first bytes of
/// the file, `tail` the last (at least 4 KiB of each when the file is that long).
pub fn incomplete(kind: DatabaseKind, size: u64, head: &[u8], tail: &[u8]) -> Option<String> {
    if size == 0 {
        return Some("the dump is empty".to_owned());
    }
    let contains = |needle: &[u8]| tail.windows(needle.len()).any(|window| window == needle);
    match kind {
        DatabaseKind::Postgres if !contains(b"PostgreSQL database cluster dump complete") => {
            Some("pg_dumpall did not write its end marker (\"dump complete\")".to_owned())
        }
        DatabaseKind::Mysql | DatabaseKind::Mariadb if !contains(b"-- Dump completed") => {
            Some("the SQL dump lacks its end marker (\"-- Dump completed\")".to_owned())
        }
        DatabaseKind::Redis if !head.starts_with(b"REDIS") => {
            Some("the RDB file does not start with REDIS".to_owned())
        }
        // Since RDB version 5 the file ends with the EOF opcode and an 8-byte checksum.
        DatabaseKind::Redis if tail.len() < 9 || tail.get(tail.len() - 9) != Some(&0xFF) => {
            Some("the RDB file does not end with its EOF opcode".to_owned())
        }
        DatabaseKind::Mongo if !head.starts_with(&[0x6d, 0xe2, 0x99, 0x81]) => {
            Some("the archive does not start with mongodump's magic number".to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|entry| (*entry).to_owned()).collect()
    }

    #[test]
    fn issue_17_postgres_dumps_as_its_user_with_the_password_in_the_environment() {
        let commands = dump_commands(
            DatabaseKind::Postgres,
            &env(&["POSTGRES_USER=app", "POSTGRES_PASSWORD=hunter2"]),
        );
        assert_eq!(commands.len(), 1);
        assert_eq!(
            commands[0].cmd,
            ["pg_dumpall", "--clean", "--if-exists", "-U", "app"]
        );
        assert_eq!(commands[0].env, ["PGPASSWORD=hunter2"]);
        assert!(!format!("{commands:?}").contains("hunter2"));
        let default = dump_commands(DatabaseKind::Postgres, &[]);
        assert_eq!(default[0].cmd[4], "postgres");
    }

    #[test]
    fn issue_17_mariadb_tries_mariadb_dump_then_mysqldump_as_root() {
        let commands = dump_commands(
            DatabaseKind::Mariadb,
            &env(&["MARIADB_ROOT_PASSWORD=s3cret", "MARIADB_USER=app"]),
        );
        let programs: Vec<&str> = commands.iter().map(|c| c.cmd[0].as_str()).collect();
        assert_eq!(programs, ["mariadb-dump", "mysqldump"]);
        assert!(commands[0].cmd.contains(&"--single-transaction".to_owned()));
        assert!(commands[0].cmd.contains(&"--all-databases".to_owned()));
        assert_eq!(commands[0].env, ["MYSQL_PWD=s3cret"]);
        let app = dump_commands(
            DatabaseKind::Mysql,
            &env(&["MYSQL_USER=app", "MYSQL_PASSWORD=pw"]),
        );
        assert_eq!(app.len(), 1);
        assert_eq!(app[0].cmd[0], "mysqldump");
        assert_eq!(app[0].cmd.last().map(String::as_str), Some("app"));
        assert_eq!(app[0].env, ["MYSQL_PWD=pw"]);
    }

    #[test]
    fn issue_17_restores_read_the_dump_from_stdin() {
        let postgres = restore_commands(DatabaseKind::Postgres, &[]);
        assert_eq!(postgres[0].cmd[0], "psql");
        let mongo = restore_commands(DatabaseKind::Mongo, &[]);
        assert_eq!(mongo[0].cmd, ["mongorestore", "--archive", "--drop"]);
        assert!(restore_commands(DatabaseKind::Redis, &[]).is_empty());
    }

    #[test]
    fn issue_17_incomplete_dumps_are_told_apart() {
        let pg_end = b"--\n-- PostgreSQL database cluster dump complete\n--\n\n";
        assert_eq!(incomplete(DatabaseKind::Postgres, 10, b"--", pg_end), None);
        assert!(incomplete(DatabaseKind::Postgres, 10, b"--", b"COPY public.t").is_some());
        assert!(incomplete(DatabaseKind::Postgres, 0, b"", pg_end).is_some());
        let my_end = b"\n-- Dump completed on 2026-12-07  9:41:24\n";
        assert_eq!(incomplete(DatabaseKind::Mariadb, 10, b"--", my_end), None);
        assert!(incomplete(DatabaseKind::Mysql, 10, b"--", b"INSERT INTO").is_some());
        let mut rdb = b"REDIS0010".to_vec();
        rdb.extend([0xFE, 0x00, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(incomplete(DatabaseKind::Redis, 20, &rdb, &rdb), None);
        let cut = &rdb[..rdb.len() - 1];
        assert!(incomplete(DatabaseKind::Redis, 19, cut, cut).is_some());
        assert!(incomplete(DatabaseKind::Redis, 20, b"RDB", &rdb).is_some());
        let archive = [0x6d, 0xe2, 0x99, 0x81, 1];
        assert_eq!(incomplete(DatabaseKind::Mongo, 5, &archive, &archive), None);
        assert!(incomplete(DatabaseKind::Mongo, 5, b"{", b"{").is_some());
    }
}

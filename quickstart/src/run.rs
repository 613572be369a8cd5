//! The quickstart's configuration and run: the controller started in-process, the local agent
//! enrolled once and started beside it.

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::config::{Config, ConfigError, RawConfig};
use unity_controller::{domain, service};
use unity_shared::outln;

/// The QUIC address when neither `--listen` nor the file names one: loopback, as quickstart
/// is for trying Unity on one machine.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7443";

/// The quickstart's configuration: the file's (`raw`, everything from the dashboard address to
/// alerts), with the data under `dir/controller` and the QUIC endpoint on `listen` (the flag,
/// else the file's `listen`, else [`DEFAULT_LISTEN`]), advertised as the file says or as is.
pub fn config(mut raw: RawConfig, dir: &Path, listen: Option<&str>) -> Result<Config, ConfigError> {
    raw.data_dir = Some(dir.join("controller"));
    let listen = listen
        .map(str::to_owned)
        .or(raw.listen.take())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    if raw.advertise.is_none() {
        raw.advertise = Some(listen.clone());
    }
    raw.listen = Some(listen);
    Config::from_raw(raw)
}

/// Runs the controller with `config` (see [`config`]) and a local agent with its data in
/// `dir/agent`, until Ctrl-C.
pub async fn run(config: Config, dir: PathBuf, interval: &str) -> anyhow::Result<()> {
    let interval_duration =
        humantime::parse_duration(interval).with_context(|| format!("--interval {interval:?}"))?;
    let controller_dir = config.data_dir.clone();
    let agent_dir = dir.join("agent");
    let controller = service::start(config).await?;
    let address = controller.local_addr.to_string();

    let mut agent_config = unity_agent::config::Config::with_data_dir(agent_dir.clone());
    agent_config.interval = interval_duration;
    agent_config.controller = Some(address.clone());
    if !unity_agent::identity::is_enrolled(&agent_dir) {
        let context = controller.context.clone();
        let token = tokio::task::spawn_blocking(move || {
            domain::tokens::issue(&context, Duration::from_secs(300))
        })
        .await??;
        let agent_id = unity_agent::cli::enroll(
            &agent_config,
            &address,
            &token.token,
            &controller.context.ca.ca_hash(),
            false,
        )
        .await
        .context("enrolling the local agent")?;
        outln!("Enrolled the local agent as {agent_id}.");
    }
    let agent = unity_agent::runtime::start(agent_config).await?;
    let context = controller.context.clone();
    let first_admin = tokio::task::spawn_blocking(move || {
        unity_controller::domain::users::ensure_first_admin(&context)
    })
    .await?
    .map_err(|error| anyhow::anyhow!("creating the first admin: {error}"))?;
    let data_dir = controller_dir.display();
    outln!();
    outln!("Unity quickstart is running.");
    outln!("  Controller (QUIC):   {address}");
    outln!("  CA pin:              {}", controller.context.ca.ca_hash());
    outln!("  Dashboard:           {}", controller.dashboard_url);
    match &first_admin {
        Some((user, password)) => outln!("  Dashboard login:     {user} / {password}   (shown once)"),
        None => outln!("  Dashboard login:     your existing users (add one: unity-controller --data-dir {} user add NAME --role admin)", controller_dir.display()),
    }
    outln!("  Data:                {}", dir.display());
    outln!("  Hosts:               unity-controller --data-dir {data_dir} hosts");
    outln!("  History:             unity-controller --data-dir {data_dir} query <AGENT_ID> cpu_usage_ratio --since 10m");
    outln!("  Enroll another host: unity-controller --data-dir {data_dir} token create");
    outln!("Press Ctrl-C to stop.");
    unity_controller::cli::shutdown_signal().await;
    outln!("Stopping.");
    agent.stop().await;
    controller.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> RawConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn issue_13_quickstart_keeps_the_files_settings() {
        let raw = file(
            "api_listen = \"127.0.0.1:9999\"\nmetrics_token = \"m\"\ntls = \"self\"\ndata_dir = \"/var/lib/x\"",
        );
        let config = config(raw, Path::new("/tmp/qs"), None).unwrap();
        assert_eq!(config.api_listen.to_string(), "127.0.0.1:9999");
        assert_eq!(
            config.metrics_token,
            Some(unity_controller::config::Secret("m".into()))
        );
        assert_eq!(config.api_tls, unity_controller::config::ApiTls::SelfIssued);
        assert_eq!(config.data_dir, Path::new("/tmp/qs/controller"));
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.advertise, DEFAULT_LISTEN);
    }

    #[test]
    fn quickstart_listens_where_the_flag_or_else_the_file_says() {
        let with_listen = || file("listen = \"127.0.0.1:8443\"\nadvertise = \"nas.lan:8443\"");
        let from_file = config(with_listen(), Path::new("qs"), None).unwrap();
        assert_eq!(from_file.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(from_file.advertise, "nas.lan:8443");
        let from_flag = config(with_listen(), Path::new("qs"), Some("127.0.0.1:9443")).unwrap();
        assert_eq!(from_flag.listen.to_string(), "127.0.0.1:9443");
        assert!(config(file("retention = \"x\""), Path::new("qs"), None).is_err());
    }
}

//! `unity-controller quickstart`: a controller and an enrolled local agent in one process, with
//! all data under one directory, for trying Unity on a single machine.

use crate::config::{Config, RawConfig};
use crate::{admin, service};
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Duration;
use unity_agent::outln;

pub async fn run(dir: PathBuf, listen: &str, interval: &str) -> anyhow::Result<()> {
    let interval_duration =
        humantime::parse_duration(interval).with_context(|| format!("--interval {interval:?}"))?;
    let controller_dir = dir.join("controller");
    let agent_dir = dir.join("agent");
    let raw = RawConfig {
        data_dir: Some(controller_dir.clone()),
        listen: Some(listen.to_owned()),
        advertise: Some(listen.to_owned()),
        ..RawConfig::default()
    };
    let config = Config::from_raw(raw)?;
    let controller = service::start(config).await?;
    let address = controller.local_addr.to_string();

    let mut agent_config = unity_agent::config::Config::with_data_dir(agent_dir.clone());
    agent_config.interval = interval_duration;
    agent_config.controller = Some(address.clone());
    if !unity_agent::identity::is_enrolled(&agent_dir) {
        let context = controller.context.clone();
        let token = tokio::task::spawn_blocking(move || {
            admin::create_token(&context, Duration::from_secs(300))
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
    let first_admin =
        tokio::task::spawn_blocking(move || crate::api::write::ensure_first_admin(&context))
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
    crate::cli::shutdown_signal().await;
    outln!("Stopping.");
    agent.stop().await;
    controller.shutdown().await
}

//! `unity-agent status`: the identity, the daemon's connection and spool, from the files the
//! daemon writes (it need not be running).

use crate::config::Config;
use crate::{identity, runtime, spool};
use std::time::Duration;
use unity_shared::outln;

fn format_time_ms(ms: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms as u64))
        .to_string()
}

pub async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let (identity, status, spool_depth) = tokio::task::spawn_blocking(move || {
        let identity = identity::load(&data_dir);
        let status = runtime::status::read(&data_dir);
        let depth = spool::depth_of(&identity::spool_dir(&data_dir));
        (identity, status, depth)
    })
    .await?;
    let identity = identity?;
    let status = status.unwrap_or_default();
    let running =
        status.pid != 0 && std::path::Path::new(&format!("/proc/{}", status.pid)).exists();
    let connection = if running {
        status.connection.clone()
    } else {
        "not running".into()
    };
    let not_after = identity.not_after_unix().unwrap_or(0);
    if json {
        let value = serde_json::json!({
            "agent_id": identity.agent_id.to_string(),
            "controller": config.controller.clone().unwrap_or(identity.controller.clone()),
            "connection": connection,
            "connection_since_ms": status.connection_since_ms,
            "last_error": status.last_error,
            "last_collection_ms": status.last_collection_ms,
            "last_ack_ms": status.last_ack_ms,
            "certificate_not_after": not_after,
            "spool_depth": spool_depth,
            "instance_id": status.instance_id,
            "identity_note": status.identity_note,
            "waiting_since_ms": status.waiting_since_ms,
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    outln!("agent id:         {}", identity.agent_id);
    outln!(
        "controller:       {}",
        config.controller.as_deref().unwrap_or(&identity.controller)
    );
    outln!(
        "connection:       {connection} (since {})",
        format_time_ms(status.connection_since_ms)
    );
    if running && status.waiting_since_ms > 0 {
        outln!(
            "waiting:          for the controller's answer since {}",
            format_time_ms(status.waiting_since_ms)
        );
    }
    if let Some(error) = &status.last_error {
        outln!("last error:       {error}");
    }
    if let Some(note) = &status.identity_note {
        outln!("identity:         {note}");
    }
    outln!("certificate until {}", format_time_ms(not_after * 1000));
    outln!("spool depth:      {spool_depth} reports");
    outln!(
        "last collection:  {}",
        format_time_ms(status.last_collection_ms)
    );
    outln!("last ack:         {}", format_time_ms(status.last_ack_ms));
    Ok(())
}

/// `unity-agent agentless status`: the agentless hosts as the running daemon last wrote them.
pub async fn agentless(config: &Config, json: bool) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let status = tokio::task::spawn_blocking(move || runtime::status::read(&data_dir))
        .await?
        .unwrap_or_default();
    if json {
        outln!("{}", serde_json::to_string_pretty(&status.agentless)?);
        return Ok(());
    }
    if status.agentless.is_empty() {
        outln!("No agentless hosts assigned to this agent.");
    }
    for line in &status.agentless {
        let state = if line.state.is_empty() {
            "not collected yet"
        } else {
            line.state.as_str()
        };
        outln!(
            "{}: {state}; {} waiting, {} acknowledged, {} dropped",
            line.host,
            line.pending,
            line.acknowledged,
            line.dropped
        );
        if let Some(message) = &line.message {
            outln!("  {message}");
        }
    }
    Ok(())
}

//! Runs smartctl: discover devices with `--scan-open`, then read each one with `-j -x` (7.0 and
//! newer) or `-x` text, and give each a verdict. All process execution goes through
//! [`crate::exec::run`].

use std::path::PathBuf;
use std::time::Duration;

use unity_shared::model::storage::{
    CollectorOutcome, ParseWarning, SmartCollection, SmartDeviceResult, SmartReport,
};

use super::{exit_status, parse_json, parse_text, verdict, SmartThresholds};
use crate::exec::{CommandSpec, ExecError, Local, Output, Runner};

/// How to run smartctl.
#[derive(Debug, Clone)]
pub struct SmartConfig {
    /// `smartctl`, or a full path (tests inject a fake).
    pub smartctl_path: PathBuf,
    /// Per command.
    pub timeout: Duration,
    pub thresholds: SmartThresholds,
    /// Pass `-n standby` so sleeping disks are not spun up.
    pub skip_standby: bool,
}

impl Default for SmartConfig {
    fn default() -> SmartConfig {
        SmartConfig {
            smartctl_path: PathBuf::from("smartctl"),
            timeout: Duration::from_secs(30),
            thresholds: SmartThresholds::default(),
            skip_standby: true,
        }
    }
}

/// One line of `smartctl --scan-open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedDevice {
    pub device: String,
    /// The `-d` argument, e.g. `sat`, `nvme`, `megaraid,0`.
    pub device_type: Option<String>,
}

/// Parses `smartctl --scan-open` output: `/dev/sda -d sat # /dev/sda [SAT], ATA device`.
/// Commented lines (devices that failed to open) are skipped.
pub fn parse_scan_open(output: &str) -> Vec<ScannedDevice> {
    let mut devices = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let command = line.split('#').next().unwrap_or("");
        let mut words = command.split_whitespace();
        let Some(device) = words.next() else {
            continue;
        };
        let mut device_type = None;
        while let Some(word) = words.next() {
            if word == "-d" {
                device_type = words.next().map(str::to_owned);
            }
        }
        devices.push(ScannedDevice {
            device: device.to_owned(),
            device_type,
        });
    }
    devices
}

/// `smartctl 7.3 2022-02-28 r5338 [...]` to `(7, 3)`.
pub fn parse_version(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find(|l| l.starts_with("smartctl "))?;
    let version = line.split_whitespace().nth(1)?;
    let (major, minor) = version.split_once('.')?;
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Discovers and reads every device. Never fails as a whole: a missing smartctl is
/// [`CollectorOutcome::NotInstalled`], other trouble is [`CollectorOutcome::Failed`] or a
/// per-device error.
pub async fn collect(config: &SmartConfig) -> SmartCollection {
    collect_with(&Local, config).await
}

/// [`collect`] with the commands run by `runner` (here, or on an agentless host).
pub async fn collect_with(runner: &impl Runner, config: &SmartConfig) -> SmartCollection {
    let version_spec = CommandSpec::new(&config.smartctl_path, &["--version"]);
    let version = match runner.run(&version_spec, config.timeout).await {
        Ok(output) => parse_version(&output.stdout_lossy()),
        Err(error) => return failed_run(config, &error),
    };
    let scan_spec = CommandSpec::new(&config.smartctl_path, &["--scan-open"]);
    let scan = match runner.run(&scan_spec, config.timeout).await {
        Ok(output) => output,
        Err(error) => return failed_run(config, &error),
    };
    let scanned = parse_scan_open(&scan.stdout_lossy());
    if scanned.is_empty() && scan.exit_code != Some(0) {
        return SmartCollection {
            outcome: CollectorOutcome::Failed {
                message: format!(
                    "`{}` exited with {:?}: {}",
                    scan_spec.display(),
                    scan.exit_code,
                    String::from_utf8_lossy(&scan.stderr).trim()
                ),
            },
            devices: Vec::new(),
        };
    }
    let json_supported = version.is_some_and(|(major, _)| major >= 7);
    let mut devices = Vec::new();
    for device in scanned {
        devices.push(read_device(runner, config, &device, json_supported).await);
    }
    SmartCollection {
        outcome: CollectorOutcome::Ok,
        devices,
    }
}

fn failed_run(config: &SmartConfig, error: &ExecError) -> SmartCollection {
    let outcome = if error.is_not_found() {
        CollectorOutcome::NotInstalled {
            tool: config.smartctl_path.display().to_string(),
        }
    } else {
        CollectorOutcome::Failed {
            message: error.to_string(),
        }
    };
    SmartCollection {
        outcome,
        devices: Vec::new(),
    }
}

fn device_args<'a>(config: &SmartConfig, device: &'a ScannedDevice, json: bool) -> Vec<&'a str> {
    let mut args = Vec::new();
    if json {
        args.push("-j");
    }
    args.push("-x");
    if config.skip_standby {
        args.extend(["-n", "standby"]);
    }
    if let Some(device_type) = &device.device_type {
        args.extend(["-d", device_type.as_str()]);
    }
    args.push(device.device.as_str());
    args
}

/// Reads one device, preferring JSON and falling back to text when the JSON does not parse.
pub async fn read_device(
    runner: &impl Runner,
    config: &SmartConfig,
    device: &ScannedDevice,
    json_supported: bool,
) -> SmartDeviceResult {
    let mut result = SmartDeviceResult {
        device: device.device.clone(),
        device_type: device.device_type.clone(),
        report: None,
        verdict: None,
        warnings: Vec::new(),
        error: None,
    };
    let mut errors = Vec::new();
    if json_supported {
        match run_and_parse(runner, config, device, true).await {
            Ok((report, warnings)) => return finish(config, result, report, warnings),
            Err(error) => errors.push(error),
        }
    }
    match run_and_parse(runner, config, device, false).await {
        Ok((report, warnings)) => finish(config, result, report, warnings),
        Err(error) => {
            errors.push(error);
            result.error = Some(errors.join("; "));
            result
        }
    }
}

async fn run_and_parse(
    runner: &impl Runner,
    config: &SmartConfig,
    device: &ScannedDevice,
    json: bool,
) -> Result<(SmartReport, Vec<ParseWarning>), String> {
    let args = device_args(config, device, json);
    let spec = CommandSpec::new(&config.smartctl_path, &args);
    let output: Output = runner
        .run(&spec, config.timeout)
        .await
        .map_err(|error| error.to_string())?;
    let stdout = output.stdout_lossy();
    let parsed = if json {
        parse_json(&stdout)
    } else {
        parse_text(&stdout)
    };
    let (mut report, warnings) = parsed.map_err(|error| {
        format!(
            "`{}` (exit {:?}): {error}",
            spec.display(),
            output.exit_code
        )
    })?;
    if let Some(code) = output.exit_code {
        report.smartctl.exit_status = Some(exit_status::decode(code));
    }
    Ok((report, warnings))
}

fn finish(
    config: &SmartConfig,
    mut result: SmartDeviceResult,
    mut report: SmartReport,
    warnings: Vec<ParseWarning>,
) -> SmartDeviceResult {
    if report.device.name.is_none() {
        report.device.name = Some(result.device.clone());
    }
    if report.device.device_type.is_none() {
        report.device.device_type = result.device_type.clone();
    }
    result.verdict = Some(verdict(&report, &config.thresholds));
    result.report = Some(report);
    result.warnings = warnings;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_open_lines() {
        let devices = parse_scan_open(
            "/dev/sda -d sat # /dev/sda [SAT], ATA device\n\
             # /dev/sdb -d scsi # /dev/sdb, SCSI device open failed: No such device\n\
             /dev/nvme0 -d nvme # /dev/nvme0, NVMe device\n\
             /dev/bus/0 -d megaraid,0 # /dev/bus/0 [megaraid_disk_00], SCSI device\n",
        );
        let pairs: Vec<(&str, Option<&str>)> = devices
            .iter()
            .map(|d| (d.device.as_str(), d.device_type.as_deref()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("/dev/sda", Some("sat")),
                ("/dev/nvme0", Some("nvme")),
                ("/dev/bus/0", Some("megaraid,0")),
            ]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("smartctl 7.3 2022-02-28 r5338 [x86_64-linux] (local build)\n"),
            Some((7, 3))
        );
        assert_eq!(parse_version("smartctl 6.5 2016-01-24 r4214"), Some((6, 5)));
        assert_eq!(parse_version("bash: smartctl: not found"), None);
    }
}

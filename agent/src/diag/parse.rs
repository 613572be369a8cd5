//! `unity-agent parse KIND FILE`: parse a saved tool output and render the model, its verdict and
//! the parser's warnings as pretty JSON. This is how users report parsing problems, and the JSON
//! field names are the stable ones documented in `docs/storage-model.md`.

use anyhow::Context;
use serde::Serialize;
use unity_shared::model::storage::ParseWarning;

use crate::collect::{mdraid, smart, zfs};

/// Which tool output a file holds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseKind {
    /// `smartctl -x` (or `-a`) text output.
    Smartctl,
    /// `smartctl -j -x` JSON output.
    SmartctlJson,
    /// `zpool status` (with or without `-p`).
    ZpoolStatus,
    /// `zpool status -j` JSON (OpenZFS 2.3 and later; with or without `--json-int`, `-p`).
    ZpoolStatusJson,
    /// `zpool list -Hp -o name,health,size,alloc,free,fragmentation,capacity,dedupratio`
    /// (also the default columns, and `zpool list -p -v` with its header).
    ZpoolList,
    /// `zfs list -Hp -o name,avail,used,usedsnap,usedds`.
    ZfsList,
    /// `/proc/mdstat`.
    Mdstat,
    /// `mdadm --detail /dev/mdX`.
    MdadmDetail,
}

/// What `parse` prints: fields in this order.
#[derive(Serialize)]
struct Parsed<'a, M, V> {
    model: &'a M,
    /// One verdict (drive, md detail), one per pool or array (zpool status, mdstat), or `null`
    /// (capacity listings).
    verdict: &'a V,
    warnings: &'a [ParseWarning],
}

fn render<M: Serialize, V: Serialize>(
    model: &M,
    verdict: &V,
    warnings: &[ParseWarning],
) -> anyhow::Result<String> {
    let parsed = Parsed {
        model,
        verdict,
        warnings,
    };
    serde_json::to_string_pretty(&parsed).context("rendering JSON")
}

/// Parses `input` as `kind` and renders `{model, verdict, warnings}` as pretty JSON.
///
/// Verdicts use default thresholds. The ZFS scrub-age check needs a clock and is skipped here,
/// so the output depends on the input only.
pub fn parse_to_json(kind: ParseKind, input: &str) -> anyhow::Result<String> {
    match kind {
        ParseKind::Smartctl | ParseKind::SmartctlJson => {
            let (report, warnings) = if kind == ParseKind::Smartctl {
                smart::parse_text(input)
            } else {
                smart::parse_json(input)
            }
            .context("parsing smartctl output")?;
            let verdict = smart::verdict(&report, &smart::SmartThresholds::default());
            render(&report, &verdict, &warnings)
        }
        ParseKind::ZpoolStatus | ParseKind::ZpoolStatusJson => {
            let (status, warnings) = if kind == ParseKind::ZpoolStatus {
                zfs::parse_status(input).context("parsing `zpool status` output")?
            } else {
                zfs::parse_status_json(input).context("parsing `zpool status -j` output")?
            };
            let verdicts: Vec<_> = status
                .pools
                .iter()
                .map(|pool| zfs::verdict(pool, &zfs::ZfsThresholds::default(), None))
                .collect();
            render(&status, &verdicts, &warnings)
        }
        ParseKind::ZpoolList => {
            let (pools, warnings) =
                zfs::parse_zpool_list(input).context("parsing `zpool list` output")?;
            render(&pools, &(), &warnings)
        }
        ParseKind::ZfsList => {
            let (datasets, warnings) =
                zfs::parse_zfs_list(input).context("parsing `zfs list` output")?;
            render(&datasets, &(), &warnings)
        }
        ParseKind::Mdstat => {
            let (mdstat, warnings) = mdraid::parse_mdstat(input).context("parsing mdstat")?;
            let verdicts: Vec<_> = mdstat
                .arrays
                .iter()
                .map(|array| mdraid::array_verdict(array, None))
                .collect();
            render(&mdstat, &verdicts, &warnings)
        }
        ParseKind::MdadmDetail => {
            let (detail, warnings) =
                mdraid::parse_detail(input).context("parsing `mdadm --detail` output")?;
            let verdict = mdraid::detail_verdict(&detail);
            render(&detail, &verdict, &warnings)
        }
    }
}

/// Reads a saved output as bytes (smartctl on Windows writes Latin-1) and parses it.
///
/// Note that this uses blocking I/O; it is meant for the one-shot CLI.
pub fn parse_file_to_json(kind: ParseKind, path: &std::path::Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_to_json(kind, &String::from_utf8_lossy(&bytes))
        .with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn value_names_are_stable() {
        let names: Vec<String> = ParseKind::value_variants()
            .iter()
            .map(|kind| kind.to_possible_value().unwrap().get_name().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "smartctl",
                "smartctl-json",
                "zpool-status",
                "zpool-status-json",
                "zpool-list",
                "zfs-list",
                "mdstat",
                "mdadm-detail"
            ]
        );
    }

    #[test]
    fn renders_model_verdict_warnings_in_order() {
        let json = parse_to_json(
            ParseKind::Mdstat,
            "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      1024 blocks [2/1] [U_]\n",
        )
        .unwrap();
        let model_at = json.find("\"model\"").unwrap();
        let verdict_at = json.find("\"verdict\"").unwrap();
        let warnings_at = json.find("\"warnings\"").unwrap();
        assert!(model_at < verdict_at && verdict_at < warnings_at, "{json}");
        assert!(json.contains("\"failing\""), "{json}");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let error = parse_to_json(ParseKind::ZpoolStatus, "hello").unwrap_err();
        assert!(format!("{error:#}").contains("zpool status"), "{error:#}");
        assert!(parse_to_json(ParseKind::SmartctlJson, "").is_err());
        let error = parse_to_json(ParseKind::ZpoolStatusJson, "  pool: tank\n").unwrap_err();
        assert!(
            format!("{error:#}").contains("zpool status -j"),
            "{error:#}"
        );
    }

    #[test]
    fn zpool_status_json_renders_pools_and_verdicts() {
        let json = parse_to_json(
            ParseKind::ZpoolStatusJson,
            r#"{"pools":{"tank":{"name":"tank","state":"ONLINE","error_count":"0"}}}"#,
        )
        .unwrap();
        assert!(json.contains("\"name\": \"tank\""), "{json}");
        assert!(json.contains("\"passed\""), "{json}");
    }
}

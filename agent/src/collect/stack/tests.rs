//! Tests for the storage stack linker: real fixtures from the rooms' `testdata/` (with
//! serials and WWNs set where the fixtures are redacted) plus synthetic `/dev/disk/by-id` lists
//! and mount tables; snapshots are the rendered trees in `stack/testdata/`.
//!
//! Refresh them with `UPDATE_EXPECT=1 cargo test -p unity-agent --lib collect::stack`.

use expect_test::{expect_file, ExpectFile};
use unity_shared::model::storage::stack::{DriveIdentity, StorageStack};
use unity_shared::model::storage::{
    CollectorOutcome, RaidCollection, SmartCollection, SmartDeviceResult, ZfsCollection,
};

use super::device_names::{split_kernel, wwn_in_name};
use super::{link, parse_mounts};
use crate::collect::mdraid::samples::tests::collection as raid_fixture;
use crate::collect::smart::samples::tests::device as smart_fixture;
use crate::collect::zfs::samples::tests::collection as zfs_fixture;
use crate::diag::stack::render_stack;

/// A SMART fixture read at `device`, with the serial and WWN set to the given drive's
/// (fixtures are redacted, and several drives of one model share one fixture).
fn drive(file: &str, device: &str, serial: &str, wwn: Option<&str>) -> SmartDeviceResult {
    let mut result = smart_fixture(file, device, None);
    if let Some(report) = &mut result.report {
        report.device.serial = Some(serial.to_owned());
        report.device.wwn = wwn.map(str::to_owned);
    }
    result
}

const TOSHIBA: &str = "smartctl-exporter-sat-toshiba-mg09aca18te.json";
const IRONWOLF: &str = "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt";
const SEAGATE_OOS: &str = "pysmart-ata-hdd-oos12000g-7.1-all.txt";

#[derive(Default)]
struct Case {
    smart: Vec<SmartDeviceResult>,
    zfs: Vec<ZfsCollection>,
    raid: Option<&'static str>,
    by_id: &'static [(&'static str, &'static str)],
    mounts: &'static [(&'static str, &'static str)],
    previous: Vec<DriveIdentity>,
}

fn run(case: Case) -> StorageStack {
    let smart = SmartCollection {
        outcome: CollectorOutcome::Ok,
        devices: case.smart,
    };
    let mut zfs = ZfsCollection {
        outcome: CollectorOutcome::Ok,
        pools: Vec::new(),
        capacity: Vec::new(),
        datasets: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    for collection in case.zfs {
        zfs.pools.extend(collection.pools);
    }
    let raid = case.raid.map_or_else(
        || RaidCollection {
            outcome: CollectorOutcome::NotInstalled {
                tool: "/proc/mdstat".to_owned(),
            },
            arrays: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        },
        raid_fixture,
    );
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    link(
        &smart,
        &zfs,
        &raid,
        &pairs(case.by_id),
        &pairs(case.mounts),
        &case.previous,
    )
}

#[track_caller]
fn check(case: Case, expect: ExpectFile) -> StorageStack {
    let stack = run(case);
    expect.assert_eq(&render_stack(&stack));
    stack
}

fn identity(model: &str, serial: &str, wwn: Option<&str>) -> DriveIdentity {
    DriveIdentity {
        model: Some(model.to_owned()),
        serial: Some(serial.to_owned()),
        wwn: wwn.map(str::to_owned),
    }
}

#[test]
fn zfs_by_id_names_nvme_partitions_and_a_usb_stick() {
    let nvme = |device: &str, serial: &str| {
        let mut result = drive(
            "pysmart-nvme-samsung-970evoplus-7.2-pve.txt",
            device,
            serial,
            None,
        );
        if let Some(report) = &mut result.report {
            report.device.model = Some("Samsung SSD 980 500GB".to_owned());
        }
        result
    };
    check(
        Case {
            smart: vec![
                drive(
                    TOSHIBA,
                    "/dev/sda",
                    "82X0A0QMFJDH",
                    Some("0x50000397c8d1a0b1"),
                ),
                drive(
                    TOSHIBA,
                    "/dev/sdb",
                    "82J0A00FFJDH",
                    Some("0x50000397c8d1a0b2"),
                ),
                drive(
                    TOSHIBA,
                    "/dev/sdc",
                    "82X0A0QPFJDH",
                    Some("0x50000397c8d1a0b3"),
                ),
                nvme("/dev/nvme0", "S64DNL0T824602E"),
                nvme("/dev/nvme1", "S64DNL0T824555Z"),
            ],
            zfs: vec![zfs_fixture(
                "status-two-pools-raidz1-and-nvme-mirror-scrubbed.txt",
                None,
                None,
            )],
            by_id: &[
                (
                    "/dev/disk/by-id/ata-TOSHIBA_MG09ACA18TE_82X0A0QMFJDH",
                    "/dev/sda",
                ),
                (
                    "/dev/disk/by-id/ata-TOSHIBA_MG09ACA18TE_82X0A0QMFJDH-part1",
                    "/dev/sda1",
                ),
                ("/dev/disk/by-id/wwn-0x50000397c8d1a0b1", "/dev/sda"),
                (
                    "/dev/disk/by-id/ata-TOSHIBA_MG09ACA18TE_82J0A00FFJDH",
                    "/dev/sdb",
                ),
                ("/dev/disk/by-id/wwn-0x50000397c8d1a0b2", "/dev/sdb"),
                (
                    "/dev/disk/by-id/ata-TOSHIBA_MG09ACA18TE_82X0A0QPFJDH",
                    "/dev/sdc",
                ),
                (
                    "/dev/disk/by-id/md-uuid-e054553a:fbccdcfe:0ae80bc8:9379377a",
                    "/dev/md0",
                ),
                (
                    "/dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNL0T824602E",
                    "/dev/nvme0n1",
                ),
                (
                    "/dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNL0T824602E-part1",
                    "/dev/nvme0n1p1",
                ),
                (
                    "/dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNL0T824602E-part2",
                    "/dev/nvme0n1p2",
                ),
                ("/dev/disk/by-id/nvme-eui.002538b811b0a1d2", "/dev/nvme0n1"),
                (
                    "/dev/disk/by-id/nvme-Samsung_SSD_980_500GB_S64DNL0T824555Z_1",
                    "/dev/nvme1n1",
                ),
                (
                    "/dev/disk/by-id/usb-SanDisk_Cruzer_Blade_4C530001234567891234-0:0",
                    "/dev/sdd",
                ),
                (
                    "/dev/disk/by-id/usb-SanDisk_Cruzer_Blade_4C530001234567891234-0:0-part1",
                    "/dev/sdd1",
                ),
            ],
            mounts: &[
                ("pool0", "/pool0"),
                ("pool0/media", "/pool0/media"),
                ("pool1", "/pool1"),
                ("/dev/nvme0n1p2", "/boot/efi"),
                ("/dev/sdd1", "/media/usb"),
            ],
            ..Case::default()
        },
        expect_file!["testdata/zfs-by-id-nvme-usb.tree"],
    );
}

#[test]
fn md_members_by_device_path_with_mounts() {
    check(
        Case {
            smart: vec![
                smart_fixture(
                    "pysmart-ata-hdd-wd-hc550-wuh721816ale6l4-windows-7.3.txt",
                    "/dev/sda",
                    Some("sat"),
                ),
                smart_fixture(
                    "scrutiny-sat-hdd-wd140edfz-7.0.json",
                    "/dev/sdd",
                    Some("sat"),
                ),
                smart_fixture(
                    "pysmart-nvme-wd-black-sn770-windows-7.3.json",
                    "/dev/nvme0",
                    Some("nvme"),
                ),
                smart_fixture(
                    "telegraf-nvme-sabrent-rocket4-7.4.json",
                    "/dev/nvme1",
                    Some("nvme"),
                ),
            ],
            raid: Some("proc-mdstat-raid1-raid0-nvme-super12.txt"),
            mounts: &[
                ("/dev/md128", "/"),
                ("/dev/md126", "/scratch"),
                ("/dev/md125", "/data"),
                ("/dev/sda1", "/boot/efi"),
                ("/dev/mapper/vg-home", "/home"),
            ],
            ..Case::default()
        },
        expect_file!["testdata/md-by-device-path.tree"],
    );
}

#[test]
fn failed_md_member_without_smart() {
    check(
        Case {
            raid: Some("proc-mdstat-raid1-6way-degraded-failed.txt"),
            ..Case::default()
        },
        expect_file!["testdata/md-failed-member.tree"],
    );
}

#[test]
fn vanished_drive_is_missing_and_keeps_its_vdev() {
    let previous = vec![
        identity(
            "ST12000VN0007-2GS116",
            "ZJV0AAAA",
            Some("0x5000C500C65AC66F"),
        ),
        identity(
            "ST12000VN0007-2GS116",
            "ZJV0DDDD",
            Some("0x5000c500e3b3a41e"),
        ),
        identity("WDC WD40EFRX-68N32N0", "WD-WCC7K0000000", None),
        DriveIdentity::default(),
    ];
    let stack = check(
        Case {
            smart: vec![
                drive(IRONWOLF, "/dev/sda", "ZJV0AAAA", Some("0x5000c500c65ac66f")),
                drive(
                    SEAGATE_OOS,
                    "/dev/sdb",
                    "ZJV0BBBB",
                    Some("0x5000c500c5eee542"),
                ),
                drive(IRONWOLF, "/dev/sdc", "ZJV0CCCC", Some("0x5000c500e39e8af6")),
            ],
            zfs: vec![zfs_fixture(
                "status-feature-upgrade-notice-wwn-mirrors.txt",
                None,
                None,
            )],
            previous,
            ..Case::default()
        },
        expect_file!["testdata/vanished-drive.tree"],
    );
    let missing: Vec<_> = stack.drives.iter().filter(|d| d.missing).collect();
    assert_eq!(missing.len(), 2);
    // Carried forward, a missing drive stays missing; nothing is dropped.
    let again = run(Case {
        previous: stack.identities(),
        ..Case::default()
    });
    assert_eq!(again.drives.len(), 5);
    assert!(again.drives.iter().all(|d| d.missing));
}

#[test]
fn freebsd_and_illumos_names_best_effort() {
    let mut zfs = vec![zfs_fixture(
        "status-freenas-two-pools-gptid.txt",
        None,
        None,
    )];
    zfs.push(zfs_fixture(
        "status-freebsd-raidz2-diskid-paths.txt",
        None,
        None,
    ));
    zfs.push(zfs_fixture(
        "status-illumos-degraded-with-log-device.txt",
        None,
        None,
    ));
    check(
        Case {
            smart: vec![
                drive(
                    "linuxfabrik-ata-ssd-sandisk-sdssda240g-7.2-pve.txt",
                    "/dev/da0",
                    "162783441234",
                    None,
                ),
                drive(
                    SEAGATE_OOS,
                    "/dev/ada3",
                    "ZCT2K2R6",
                    Some("0x5000c500a4847915"),
                ),
                drive(
                    "linuxfabrik-sas-hp-eg1200jemda-7.0-x.txt",
                    "/dev/rdsk/c0t5000C500631F81E7d0",
                    "S0M0AAAA",
                    Some("0x5000c500631f81e7"),
                ),
            ],
            zfs,
            by_id: &[(
                "/dev/gptid/a855d0c8-5218-11e3-9e38-10604b926998",
                "/dev/ada1p2",
            )],
            mounts: &[("freenas-boot/ROOT/default", "/"), ("eden", "/mnt/eden")],
            ..Case::default()
        },
        expect_file!["testdata/freebsd-illumos.tree"],
    );
}

#[test]
fn stack_round_trips() {
    let stack = run(Case {
        smart: vec![drive(
            IRONWOLF,
            "/dev/sda",
            "ZJV0AAAA",
            Some("0x5000c500c65ac66f"),
        )],
        raid: Some("proc-mdstat-raid5-recovery-degraded.txt"),
        zfs: vec![zfs_fixture(
            "status-degraded-device-removed.txt",
            None,
            None,
        )],
        previous: vec![identity("X", "GONE0001", None)],
        ..Case::default()
    });
    let bytes = postcard::to_allocvec(&stack).unwrap();
    assert_eq!(postcard::from_bytes::<StorageStack>(&bytes).unwrap(), stack);
    let json = serde_json::to_string(&stack).unwrap();
    assert_eq!(serde_json::from_str::<StorageStack>(&json).unwrap(), stack);
}

#[test]
fn kernel_names() {
    let cases = [
        ("sda", Some(("sda", false))),
        ("sda1", Some(("sda", true))),
        ("sdaa12", Some(("sdaa", true))),
        ("vdb1", Some(("vdb", true))),
        ("xvda", Some(("xvda", false))),
        ("nvme0", Some(("nvme0", false))),
        ("nvme0n1", Some(("nvme0n1", false))),
        ("nvme0n1p2", Some(("nvme0n1", true))),
        ("nvme10n2p11", Some(("nvme10n2", true))),
        ("mmcblk0p1", Some(("mmcblk0", true))),
        ("ada0p3", Some(("ada0", true))),
        ("da1s1a", Some(("da1", true))),
        ("da0", Some(("da0", false))),
        ("md0", None),
        ("md126p1", None),
        ("dm-0", None),
        ("loop0", None),
        ("zd16", None),
        ("sd", None),
        ("sda1x", None),
        ("nvme0n1q2", None),
        ("gptid/a855d0c8-5218-11e3-9e38-10604b926998", None),
        ("drive0-part1", None),
        ("", None),
    ];
    for (name, expected) in cases {
        let expected = expected.map(|(disk, part)| (disk.to_owned(), part));
        assert_eq!(split_kernel(name), expected, "{name}");
    }
}

#[test]
fn wwn_names() {
    let cases = [
        ("wwn-0x5000C500C65AC66F", Some("0x5000c500c65ac66f")),
        ("scsi-35000c50093c7021b", Some("0x5000c50093c7021b")),
        ("c0t5000C500631F81E7d0", Some("0x5000c500631f81e7")),
        ("c0t55CD2E404B73663Dd0s0", Some("0x55cd2e404b73663d")),
        ("wwn-0x5000", None),
        ("scsi-SATA_ST4000_Z300", None),
        ("c0t0d0", None),
        ("sda", None),
    ];
    for (name, expected) in cases {
        assert_eq!(wwn_in_name(name).as_deref(), expected, "{name}");
    }
}

#[test]
fn mounts_table() {
    let text = "\
sysfs /sys sysfs rw,nosuid 0 0
/dev/nvme0n1p2 / ext4 rw,relatime 0 0
/dev/sdb1 /mnt/my\\040disk ext4 rw 0 0
tank/home /home zfs rw,xattr 0 0
tmpfs /run tmpfs rw 0 0
/dev/md0 /srv xfs rw 0 0
broken
";
    let expected = [
        ("/dev/nvme0n1p2", "/"),
        ("/dev/sdb1", "/mnt/my disk"),
        ("tank/home", "/home"),
        ("/dev/md0", "/srv"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(parse_mounts(text), expected);
}

#[tokio::test]
async fn reads_links_and_mounts_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().canonicalize().unwrap();
    std::fs::write(dev.join("sda"), "").unwrap();
    std::fs::write(dev.join("sda1"), "").unwrap();
    let by_id = dev.join("by-id");
    std::fs::create_dir(&by_id).unwrap();
    std::os::unix::fs::symlink("../sda", by_id.join("wwn-0x5000c500c65ac66f")).unwrap();
    std::os::unix::fs::symlink("../sda1", by_id.join("wwn-0x5000c500c65ac66f-part1")).unwrap();
    std::os::unix::fs::symlink("../gone", by_id.join("dangling")).unwrap();
    let links = super::read_links(&by_id).await;
    let show = |path: &std::path::Path| path.to_string_lossy().into_owned();
    assert_eq!(
        links,
        vec![
            (
                show(&by_id.join("wwn-0x5000c500c65ac66f")),
                show(&dev.join("sda"))
            ),
            (
                show(&by_id.join("wwn-0x5000c500c65ac66f-part1")),
                show(&dev.join("sda1"))
            ),
        ]
    );
    assert!(super::read_links(&dev.join("absent")).await.is_empty());
    let mounts_file = dev.join("mounts");
    std::fs::write(&mounts_file, "/dev/sda1 /boot ext4 rw 0 0\n").unwrap();
    assert_eq!(
        super::read_mounts(&mounts_file).await,
        vec![("/dev/sda1".to_owned(), "/boot".to_owned())]
    );
    assert!(super::read_mounts(&dev.join("absent")).await.is_empty());
}

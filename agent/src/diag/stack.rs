//! `unity-agent collect storage`: the storage stack as a tree for people, one physical drive
//! at a time, with its partitions, md arrays, ZFS pools and mount points below it.

use std::fmt::Write as _;

use unity_shared::model::storage::stack::{
    LinkKey, MdMemberState, StackDrive, StackLayer, StorageStack, ZfsVdevClass,
};
use unity_shared::model::storage::{VdevState, VerdictStatus};

/// The stack as a tree, e.g.
///
/// ```text
/// /dev/sda  TOSHIBA MG09ACA18TE  serial 82X0A0QMFJDH  wwn 0x50000397c8d1a0b1  SMART PASSED
/// ├── by-id: ata-TOSHIBA_MG09ACA18TE_82X0A0QMFJDH, wwn-0x50000397c8d1a0b1
/// └── /dev/sda1
///     └── zfs pool0 raidz1-0: ata-TOSHIBA_MG09ACA18TE_82X0A0QMFJDH-part1 ONLINE (pool PASSED, by serial)
///         └── mounted on /pool0, /pool0/data
/// ```
pub fn render_stack(stack: &StorageStack) -> String {
    let mut out = String::new();
    if stack.drives.is_empty() {
        out.push_str("No drives found.\n");
    }
    for drive in &stack.drives {
        let node = drive_node(drive);
        out.push_str(&node.label);
        out.push('\n');
        render_children(&node.children, "", &mut out);
    }
    if !stack.unlinked.is_empty() {
        out.push_str("Not linked to a drive:\n");
        let nodes: Vec<Node> = stack
            .unlinked
            .iter()
            .map(|member| {
                let layer = match member.layer {
                    StackLayer::Md => "md",
                    StackLayer::Zfs => "zfs",
                };
                Node::leaf(format!("{layer} {}: {}", member.container, member.name))
            })
            .collect();
        render_children(&nodes, "", &mut out);
    }
    out
}

struct Node {
    label: String,
    children: Vec<Node>,
}

impl Node {
    fn leaf(label: String) -> Node {
        Node {
            label,
            children: Vec::new(),
        }
    }
}

fn render_children(children: &[Node], prefix: &str, out: &mut String) {
    let n_children = children.len();
    for (index, child) in children.iter().enumerate() {
        let last = index + 1 == n_children;
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let _ = writeln!(out, "{prefix}{branch}{}", child.label);
        render_children(&child.children, &format!("{prefix}{indent}"), out);
    }
}

fn status_word(status: VerdictStatus) -> &'static str {
    match status {
        VerdictStatus::Passed => "PASSED",
        VerdictStatus::Warning => "WARNING",
        VerdictStatus::Failing => "FAILING",
    }
}

fn state_word(state: &VdevState) -> &str {
    match state {
        VdevState::Online => "ONLINE",
        VdevState::Degraded => "DEGRADED",
        VdevState::Faulted => "FAULTED",
        VdevState::Offline => "OFFLINE",
        VdevState::Unavail => "UNAVAIL",
        VdevState::Removed => "REMOVED",
        VdevState::Suspended => "SUSPENDED",
        VdevState::Avail => "AVAIL",
        VdevState::Inuse => "INUSE",
        VdevState::Other(word) => word,
    }
}

fn link_words(key: LinkKey) -> &'static str {
    match key {
        LinkKey::Wwn => "by WWN",
        LinkKey::Serial => "by serial",
        LinkKey::DevicePath => "by device path",
    }
}

fn mounted_node(mount_points: &[String]) -> Option<Node> {
    (!mount_points.is_empty())
        .then(|| Node::leaf(format!("mounted on {}", mount_points.join(", "))))
}

fn drive_node(drive: &StackDrive) -> Node {
    let mut label = if drive.missing {
        "MISSING".to_owned()
    } else if drive.device_paths.is_empty() {
        "(no device)".to_owned()
    } else {
        drive.device_paths.join(" ")
    };
    let identity = &drive.identity;
    if let Some(model) = &identity.model {
        let _ = write!(label, "  {model}");
    }
    if let Some(serial) = &identity.serial {
        let _ = write!(label, "  serial {serial}");
    }
    if let Some(wwn) = &identity.wwn {
        let _ = write!(label, "  wwn {wwn}");
    }
    if drive.missing {
        label.push_str("  (seen before, not found now)");
    } else {
        match drive.verdict {
            Some(status) => {
                let _ = write!(label, "  SMART {}", status_word(status));
            }
            None => label.push_str("  (no SMART data)"),
        }
    }
    let mut children = Vec::new();
    if !drive.by_id.is_empty() {
        children.push(Node::leaf(format!("by-id: {}", drive.by_id.join(", "))));
    }
    // Layers on a partition go below that partition; layers on the whole drive (or on a
    // name that did not resolve to a device) go straight below the drive.
    let mut partitions: Vec<(String, Vec<Node>)> = Vec::new();
    let mut place = |device: Option<&str>, node: Node, children: &mut Vec<Node>| match device
        .filter(|d| !drive.device_paths.iter().any(|p| p == d))
    {
        Some(partition) => match partitions.iter_mut().find(|(p, _)| p == partition) {
            Some((_, nodes)) => nodes.push(node),
            None => partitions.push((partition.to_owned(), vec![node])),
        },
        None => children.push(node),
    };
    for member in &drive.md {
        let state = match member.state {
            MdMemberState::Active => "active",
            MdMemberState::Faulty => "FAULTY",
            MdMemberState::Spare => "spare",
            MdMemberState::Rebuilding => "rebuilding",
            MdMemberState::Journal => "journal",
            MdMemberState::Replacement => "replacement",
        };
        let write_mostly = if member.write_mostly {
            ", write-mostly"
        } else {
            ""
        };
        let node = Node {
            label: format!(
                "md {}: {state} member{write_mostly} (array {}, {})",
                member.array,
                status_word(member.array_verdict),
                link_words(member.linked_by)
            ),
            children: mounted_node(&member.mount_points).into_iter().collect(),
        };
        place(Some(&member.member), node, &mut children);
    }
    for vdev in &drive.zfs {
        let class = match vdev.class {
            ZfsVdevClass::Data => "",
            ZfsVdevClass::Log => " log",
            ZfsVdevClass::Cache => " cache",
            ZfsVdevClass::Spare => " spare",
            ZfsVdevClass::Special => " special",
            ZfsVdevClass::Dedup => " dedup",
        };
        let parent = if vdev.parent.is_empty() {
            String::new()
        } else {
            format!(" {}", vdev.parent)
        };
        let node = Node {
            label: format!(
                "zfs{class} {}{parent}: {} {} (pool {}, {})",
                vdev.pool,
                vdev.vdev,
                state_word(&vdev.state),
                status_word(vdev.pool_verdict),
                link_words(vdev.linked_by)
            ),
            children: mounted_node(&vdev.mount_points).into_iter().collect(),
        };
        place(vdev.device.as_deref(), node, &mut children);
    }
    for mount in &drive.mounts {
        let node = Node::leaf(format!("mounted on {}", mount.mount_point));
        place(Some(&mount.device), node, &mut children);
    }
    partitions.sort_by(|a, b| a.0.cmp(&b.0));
    children.extend(
        partitions
            .into_iter()
            .map(|(label, children)| Node { label, children }),
    );
    Node { label, children }
}

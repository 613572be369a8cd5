//! OpenAPI operations for hosts, their state and history, alerts, and what an operator does to
//! an agent.

use super::{op, Access, Operation};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/alerts",
        "Alerts (open by default), most severe and newest first",
        Access::User,
        &[
            ("state", "open (default), resolved or all", false),
            ("host", "Only this host's alerts (agent id)", false),
            (
                "limit",
                "Resolved alerts at most, newest first (default 100, at most 1000)",
                false,
            ),
        ],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts",
        "Every host with status (online, stale, offline, revoked) and last seen",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}",
        "One host: status, latest values, collector sections",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/storage",
        "The host's newest storage state: SMART disks with verdicts, ZFS pools, md arrays, stack",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/databases",
        "The host's newest database instances with availability and health",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers",
        "The host's containers, recent runtime events and update checks",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/plugins",
        "The host's plugin sources (textfiles, exporters: series taken, dropped, errors) and local check results",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/series",
        "The host's series (metric and labels)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/query",
        "Stored history of one metric",
        Access::User,
        &[
            ("metric", "Metric name, e.g. cpu_usage_ratio", true),
            (
                "range",
                "Duration back from now: 1h, 6h, 24h, 7d, 30d (1m to 400d; default 1h)",
                false,
            ),
            (
                "from",
                "Start, Unix milliseconds (with `to`, instead of `range`)",
                false,
            ),
            ("to", "End (exclusive), Unix milliseconds", false),
            (
                "labels",
                "Only series with these labels: name=value,name=value",
                false,
            ),
            (
                "max_points",
                "Downsample to at most this many points per series (1-10000, default 1000)",
                false,
            ),
        ],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/revoke",
        "Revoke the agent's certificate and close its connection",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/ping",
        "Ping the connected agent",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/collect",
        "Ask the connected agent to collect now",
        Access::Admin,
        &[],
        None,
    ),
];

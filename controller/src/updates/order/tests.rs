//! The dependency order of one host's containers: compose `depends_on` labels as Compose v2
//! writes them, `unity.update.after` labels, shared network namespaces, names from other
//! compose projects, and cycles.

use super::*;
use unity_shared::model::container::{ComposeInfo, RunState};

fn container(name: &str, compose: Option<(&str, &str)>, labels: &[(&str, &str)]) -> Container {
    Container {
        id: format!("{name:x<64}"),
        name: name.into(),
        image: format!("{name}:1"),
        image_id: String::new(),
        repo_digests: Vec::new(),
        platform: None,
        image_created_ms: None,
        state: RunState::Running,
        health: None,
        exit_code: None,
        restart_policy: None,
        restart_count: 0,
        created_ms: None,
        started_ms: None,
        ports: Vec::new(),
        mounts: Vec::new(),
        networks: Vec::new(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        compose: compose.map(|(project, service)| ComposeInfo {
            project: project.into(),
            service: service.into(),
            config_files: None,
            working_dir: None,
        }),
        usage: None,
        network_mode: None,
        oom_killed: false,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn issue_17_compose_depends_on_orders_services_of_the_same_project() {
    let host = [
        container(
            "shop-app-1",
            Some(("shop", "app")),
            &[(
                COMPOSE_DEPENDS_ON,
                "db:service_started:false,redis:service_healthy:true",
            )],
        ),
        container("shop-db-1", Some(("shop", "db")), &[]),
        container("shop-redis-1", Some(("shop", "redis")), &[]),
        // Another project's db and redis are not the shop's.
        container("blog-db-1", Some(("blog", "db")), &[]),
        container(
            "blog-web-1",
            Some(("blog", "web")),
            &[(COMPOSE_DEPENDS_ON, "db:service_started:false")],
        ),
    ];
    let graph = DependencyGraph::of(&host);
    assert_eq!(
        graph.direct("shop-app-1"),
        vec![
            ("shop-db-1".to_owned(), Because::DependsOn),
            ("shop-redis-1".to_owned(), Because::DependsOn)
        ]
    );
    assert_eq!(
        graph.needs("blog-web-1").into_iter().collect::<Vec<_>>(),
        names(&["blog-db-1"])
    );
    assert!(graph.needs("shop-db-1").is_empty());
    assert_eq!(
        graph.order().unwrap(),
        names(&[
            "blog-db-1",
            "blog-web-1",
            "shop-db-1",
            "shop-redis-1",
            "shop-app-1"
        ])
    );
}

#[test]
fn issue_17_a_depends_on_naming_a_service_of_another_project_is_ignored() {
    let host = [
        container(
            "a-app-1",
            Some(("a", "app")),
            &[(COMPOSE_DEPENDS_ON, "db:service_started:false")],
        ),
        container("b-db-1", Some(("b", "db")), &[]),
        // A plain container named like the service is not the service either.
        container("db", None, &[]),
    ];
    let graph = DependencyGraph::of(&host);
    assert!(graph.direct("a-app-1").is_empty(), "{graph:?}");
    assert_eq!(graph.order().unwrap(), names(&["a-app-1", "b-db-1", "db"]));
}

#[test]
fn issue_17_after_labels_name_containers_or_services_of_the_own_project() {
    let host = [
        container("app", None, &[(AFTER_LABEL, "db, cache ,,gone")]),
        container("db", None, &[]),
        container("cache", None, &[(AFTER_LABEL, "db")]),
        container("p-worker-1", Some(("p", "worker")), &[(AFTER_LABEL, "api")]),
        container("p-api-1", Some(("p", "api")), &[]),
        container("p-api-2", Some(("p", "api")), &[]),
    ];
    let graph = DependencyGraph::of(&host);
    assert_eq!(
        graph.direct("app"),
        vec![
            ("cache".to_owned(), Because::AfterLabel),
            ("db".to_owned(), Because::AfterLabel)
        ]
    );
    assert_eq!(
        graph.needs("p-worker-1").into_iter().collect::<Vec<_>>(),
        names(&["p-api-1", "p-api-2"])
    );
    // db before cache before app; the ties broken by name.
    assert_eq!(
        graph.order().unwrap(),
        names(&["db", "cache", "app", "p-api-1", "p-api-2", "p-worker-1"])
    );
}

#[test]
fn issue_17_a_shared_network_namespace_orders_after_its_owner() {
    let vpn = container("vpn", None, &[]);
    let mut by_id = container("torrent", None, &[]);
    by_id.network_mode = Some(format!("container:{}", vpn.id));
    let mut by_prefix = container("monitor", None, &[]);
    by_prefix.network_mode = Some(format!("container:{}", &vpn.id[..12]));
    let mut by_name = container("sidecar", None, &[]);
    by_name.network_mode = Some("container:vpn".into());
    let mut bridge = container("plain", None, &[]);
    bridge.network_mode = Some("bridge".into());
    let mut elsewhere = container("lost", None, &[]);
    elsewhere.network_mode = Some("container:0123456789abcdef".into());
    let graph = DependencyGraph::of(&[by_id, by_prefix, by_name, bridge, elsewhere, vpn]);
    for dependent in ["torrent", "monitor", "sidecar"] {
        assert_eq!(
            graph.direct(dependent),
            vec![("vpn".to_owned(), Because::NetworkNamespace)],
            "{dependent}"
        );
    }
    assert!(graph.direct("plain").is_empty());
    assert!(graph.direct("lost").is_empty());
    assert_eq!(
        graph.order().unwrap(),
        names(&["lost", "plain", "vpn", "monitor", "sidecar", "torrent"])
    );
}

#[test]
fn issue_17_a_cycle_is_a_clear_error_and_only_its_members_lie_on_it() {
    let host = [
        container("a", None, &[(AFTER_LABEL, "b")]),
        container("b", None, &[(AFTER_LABEL, "c")]),
        container("c", None, &[(AFTER_LABEL, "a")]),
        container("d", None, &[(AFTER_LABEL, "a")]),
        container("e", None, &[]),
        container("self", None, &[(AFTER_LABEL, "self")]),
    ];
    let graph = DependencyGraph::of(&host);
    let error = graph.order().unwrap_err();
    assert_eq!(error.cycle, names(&["a", "b", "c", "a"]));
    assert!(
        error
            .to_string()
            .starts_with("dependency cycle a → b → c → a:"),
        "{error}"
    );
    assert_eq!(
        graph.cycle_of("b").unwrap().cycle,
        names(&["b", "c", "a", "b"])
    );
    assert_eq!(graph.cycle_of("d"), None, "d waits behind the cycle");
    assert_eq!(graph.cycle_of("e"), None);
    // A container naming itself is no dependency.
    assert!(graph.direct("self").is_empty());
}

#[test]
fn issue_17_the_order_does_not_depend_on_the_inventory_order() {
    let mut host = vec![
        container("web", None, &[(AFTER_LABEL, "api")]),
        container("api", None, &[(AFTER_LABEL, "db")]),
        container("db", None, &[]),
        container("z", None, &[]),
        container("m", None, &[]),
    ];
    let expected = names(&["db", "api", "m", "web", "z"]);
    for _ in 0..host.len() {
        host.rotate_left(1);
        assert_eq!(DependencyGraph::of(&host).order().unwrap(), expected);
    }
    host.reverse();
    assert_eq!(DependencyGraph::of(&host).order().unwrap(), expected);
}

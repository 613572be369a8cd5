//! The planner on real inspect answers of dockerd 20.10 and Podman 4.3 (see
//! `testdata/README.md`): `web` (two networks with aliases, a static IP, a bind mount, a named
//! volume, a published port, resources, capabilities, a device, a user label) moves from
//! `localhost/app:1` to `localhost/app:2`.

use bollard::models::{ContainerInspectResponse, ImageInspect, RestartPolicyNameEnum};

use super::plan::{plan, Plan};

fn container(engine: &str, name: &str) -> ContainerInspectResponse {
    let path = format!(
        "{}/src/update/testdata/{engine}-container-{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// As `engine::Bollard` sees it: on Podman, with the HEALTHCHECK from the libpod answer.
fn image(engine: &str, name: &str) -> ImageInspect {
    let dir = format!("{}/src/update/testdata", env!("CARGO_MANIFEST_DIR"));
    let path = format!("{dir}/{engine}-image-{name}.json");
    let mut image = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    if let Ok(libpod) = std::fs::read(format!("{dir}/{engine}-libpod-image-{name}.json")) {
        super::libpod::add_healthcheck(&mut image, &libpod);
    }
    image
}

#[track_caller]
fn check(engine: &str, name: &str, new_image: &str) -> Plan {
    let old = container(engine, name);
    plan(
        &old,
        &image(engine, "app-1"),
        &image(engine, new_image),
        "localhost/app:2",
    )
    .unwrap()
}

fn sorted(list: Option<Vec<String>>) -> Vec<String> {
    let mut list = list.unwrap_or_default();
    list.sort();
    list
}

#[test]
fn docker_web_drops_old_image_defaults() {
    let plan = check("docker", "web", "app-2");
    let create = &plan.create;
    assert_eq!(create.image.as_deref(), Some("localhost/app:2"));
    // `PATH` came from the old image; `FOO` was set by the user (a different value).
    assert_eq!(
        sorted(create.env.clone()),
        ["BAR=x", "FOO=user-override-no"]
    );
    assert_eq!(create.cmd, None);
    assert_eq!(create.entrypoint, None);
    assert_eq!(create.working_dir, None);
    assert_eq!(create.healthcheck, None);
    assert_eq!(create.exposed_ports, None);
    assert_eq!(create.hostname.as_deref(), Some("webhost"));
    let labels = create.labels.clone().unwrap();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels["user.label"], "kept");
}

#[test]
fn docker_web_keeps_host_config() {
    let plan = check("docker", "web", "app-2");
    let host = plan.create.host_config.clone().unwrap();
    assert_eq!(
        sorted(host.binds.clone()),
        ["/tmp/updfx/bind:/bind:ro", "data:/data"]
    );
    let ports = host.port_bindings.clone().unwrap();
    let binding = &ports["8080/tcp"].as_ref().unwrap()[0];
    assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(binding.host_port.as_deref(), Some("28931"));
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.cpu_shares, Some(512));
    assert_eq!(host.cap_add, Some(vec!["CAP_NET_ADMIN".to_owned()]));
    assert_eq!(host.cap_drop, Some(vec!["CAP_MKNOD".to_owned()]));
    let device = &host.devices.unwrap()[0];
    assert_eq!(device.path_in_container.as_deref(), Some("/dev/xnull"));
    assert_eq!(host.masked_paths, None);
    assert_eq!(host.runtime, None);
    assert_eq!(host.network_mode.as_deref(), Some("front"));
}

#[test]
fn docker_web_keeps_every_network_with_aliases_and_static_ip() {
    let plan = check("docker", "web", "app-2");
    let endpoints = plan
        .create
        .networking_config
        .unwrap()
        .endpoints_config
        .unwrap();
    let front = &endpoints["front"];
    assert_eq!(
        front.aliases,
        Some(vec!["web-front".to_owned(), "webhost".to_owned()])
    );
    assert_eq!(
        front.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
        Some("10.231.1.10")
    );
    assert_eq!(front.ip_address, None);
    assert_eq!(front.mac_address, None);
    let [(name, back)] = plan.connect.as_slice() else {
        panic!("{:?}", plan.connect)
    };
    assert_eq!(name, "back");
    assert_eq!(
        back.aliases,
        Some(vec![
            "web-back".to_owned(),
            "api".to_owned(),
            "webhost".to_owned()
        ])
    );
    assert_eq!(back.ipam_config, None);
}

#[test]
fn docker_user_entrypoint_workdir_user_and_healthcheck_are_kept() {
    let plan = check("docker", "custom", "app-2");
    let create = &plan.create;
    assert_eq!(create.entrypoint, Some(vec!["/bin/sh".to_owned()]));
    assert_eq!(
        create.cmd,
        Some(vec!["-c".to_owned(), "sleep 600".to_owned()])
    );
    assert_eq!(create.working_dir.as_deref(), Some("/custom"));
    assert_eq!(create.user.as_deref(), Some("0"));
    let test = create.healthcheck.clone().unwrap().test.unwrap();
    assert_eq!(test, ["CMD-SHELL", "true"]);
    // The auto hostname (the short id) is not pinned.
    assert_eq!(create.hostname, None);
}

#[test]
fn docker_plain_is_only_the_user_env() {
    let plan = check("docker", "plain", "app-2");
    assert_eq!(plan.create.env, Some(vec!["BAR=x".to_owned()]));
    assert_eq!(plan.create.labels, Some(Default::default()));
    assert!(
        plan.notes.iter().any(|note| note.contains("PATH")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn podman_web_drops_image_and_podman_env() {
    let plan = check("podman", "web", "app-2");
    let create = &plan.create;
    assert_eq!(create.env, Some(vec!["BAR=x".to_owned()]));
    assert_eq!(create.cmd, None);
    assert_eq!(create.entrypoint, None);
    assert_eq!(create.working_dir, None);
    assert_eq!(create.healthcheck, None);
    assert_eq!(create.stop_signal, None);
    let labels = create.labels.clone().unwrap();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["user.label"]);
}

#[test]
fn podman_web_keeps_networks_and_normalizes_host_config() {
    let plan = check("podman", "web", "app-2");
    let host = plan.create.host_config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("back"));
    assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_owned()]));
    let names: Vec<_> = host
        .ulimits
        .unwrap()
        .into_iter()
        .filter_map(|u| u.name)
        .collect();
    assert_eq!(names, ["nofile", "nproc"]);
    assert_eq!(
        host.devices.unwrap()[0].cgroup_permissions.as_deref(),
        Some("rwm")
    );
    assert_eq!(host.memory_swappiness, None);
    assert_eq!(host.pid_mode, None);
    assert_eq!(host.runtime, None);
    let endpoints = plan
        .create
        .networking_config
        .unwrap()
        .endpoints_config
        .unwrap();
    assert_eq!(
        endpoints["back"].aliases,
        Some(vec!["web-back".to_owned(), "api".to_owned()])
    );
    assert_eq!(plan.connect[0].0, "front");
    assert_eq!(
        plan.connect[0].1.aliases,
        Some(vec!["web-front".to_owned()])
    );
}

#[test]
fn same_image_is_a_faithful_clone() {
    let old = container("docker", "web");
    let app1 = image("docker", "app-1");
    let plan = plan(&old, &app1, &app1, "localhost/app:1").unwrap();
    assert_eq!(plan.create.image.as_deref(), Some("localhost/app:1"));
    assert_eq!(
        plan.create.host_config.unwrap().binds.map(|b| b.len()),
        Some(2)
    );
}

#[test]
fn missing_sections_are_an_error() {
    let old = ContainerInspectResponse::default();
    let app1 = image("docker", "app-1");
    assert!(plan(&old, &app1, &app1, "x").is_err());
}

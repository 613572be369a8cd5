//! Updates by the checked digest against a real dockerd and a real registry on loopback: a
//! re-push of the tag between the check and the apply does not change what is installed. (Not
//! run against Podman: its API pull refuses a plain-HTTP loopback registry unless
//! registries.conf marks it insecure, which the testbed's Podman does not yet do.)

use unity_shared::model::update::Outcome;
use unity_testbed::engine::{ContainerEngine, EngineKind};
use unity_testbed::registry::{Auth, Registry};

use super::engine::Engine;
use super::live_tests::{blocking, Lab};

/// Pushes `local` as `<registry>/lab/app:2`; the digest the registry then has under that tag,
/// read from the registry's own storage.
fn push(engine: &dyn ContainerEngine, registry: &Registry, local: &str) -> String {
    let reference = format!("{}/lab/app:2", registry.host());
    engine.cli(&["tag", local, &reference]).unwrap();
    match engine.kind() {
        EngineKind::Docker => engine.cli(&["push", &reference]).unwrap(),
        EngineKind::Podman => engine
            .cli(&["push", "--tls-verify=false", &reference])
            .unwrap(),
    };
    let link = registry
        .dir()
        .join("data/docker/registry/v2/repositories/lab/app/_manifests/tags/2/current/link");
    std::fs::read_to_string(link).unwrap().trim().to_owned()
}

async fn installs_the_checked_digest(kind: EngineKind) {
    let lab = Lab::start(kind).await;
    let registry = blocking(|| Registry::start(Auth::Anonymous));
    let image = format!("{}/lab/app:2", registry.host());
    let checked_id = lab.bollard.inspect_image("localhost/app:2").await.unwrap();
    let checked_id = checked_id.unwrap().id.unwrap();
    let (checked, repushed) = blocking(|| {
        let checked = push(&*lab.engine, &registry, "localhost/app:2");
        // The tag is pushed again, with an image that fails its health check, after the check.
        let repushed = push(&*lab.engine, &registry, "localhost/app:bad");
        lab.engine.cli(&["rmi", &image]).unwrap();
        // Nothing of the checked image is left locally: the update must really pull it.
        lab.engine.cli(&["rmi", "-f", &checked_id]).unwrap();
        (checked, repushed)
    });
    assert_ne!(checked, repushed);
    assert!(checked.starts_with("sha256:"), "{checked}");

    let result = lab.update("digest-1", &format!("{image}@{checked}")).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    let new_id = result.new_image_id.clone().unwrap();
    // Created under the tag (so detection keeps following it), from the checked image.
    lab.assert_web_built_as(&image, "new", "localhost/app:2")
        .await;
    let web = lab.inspect("web").await;
    assert_eq!(web.image.as_deref(), Some(new_id.as_str()));
    let tagged = lab.bollard.inspect_image(&image).await.unwrap().unwrap();
    assert_eq!(
        tagged.id,
        Some(new_id),
        "the local tag names the checked image"
    );

    // A reference whose digest is not what the registry has under it is refused untouched.
    let wrong = format!("{image}@sha256:{}", "0".repeat(64));
    let refused = lab.update("digest-2", &wrong).await;
    assert_eq!(refused.outcome, Outcome::Refused, "{refused:#?}");
    assert_eq!(lab.inspect("web").await.image, web.image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_docker_installs_the_checked_digest_not_a_later_repush() {
    installs_the_checked_digest(EngineKind::Docker).await;
}

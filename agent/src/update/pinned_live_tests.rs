//! Updates by the checked digest against a real dockerd and a real registry on loopback: a
//! re-push of the tag between the check and the apply does not change what is installed.

use unity_shared::model::update::Outcome;
use unity_testbed::engine::EngineKind;
use unity_testbed::registry::{Auth, Registry};

use super::live_tests::{blocking, Lab};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_docker_installs_the_checked_digest_not_a_later_repush() {
    let lab = Lab::start(EngineKind::Docker).await;
    let registry = blocking(|| Registry::start(Auth::Anonymous));
    let image = format!("{}/lab/app:2", registry.host());
    let (checked, checked_id, repushed) = blocking(|| {
        let cli = |args: &[&str]| lab.engine.cli(args).unwrap();
        cli(&["tag", "localhost/app:2", &image]);
        cli(&["push", &image]);
        let checked = cli(&[
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &image,
        ]);
        let checked_id = cli(&["image", "inspect", "--format", "{{.Id}}", &image]);
        // The tag is pushed again, with an image that fails its health check, after the check.
        cli(&["tag", "localhost/app:bad", &image]);
        cli(&["push", &image]);
        let repushed = cli(&[
            "image",
            "inspect",
            "--format",
            "{{index .RepoDigests 0}}",
            &image,
        ]);
        cli(&["rmi", &image]);
        // Nothing of the checked image is left locally: the update must really pull it.
        cli(&["rmi", "-f", &checked_id]);
        (checked, checked_id, repushed)
    });
    assert_ne!(checked, repushed);
    let digest = checked.split_once('@').unwrap().1;

    let result = lab.update("digest-1", &format!("{image}@{digest}")).await;
    assert_eq!(result.outcome, Outcome::Succeeded, "{result:#?}");
    assert_eq!(result.new_image_id.as_deref(), Some(checked_id.as_str()));
    // Created under the tag (so detection keeps following it), from the checked image.
    lab.assert_web_built_as(&image, "new", "localhost/app:2")
        .await;
    let web = lab.inspect("web").await;
    assert_eq!(web.image.as_deref(), Some(checked_id.as_str()));
    let tagged = blocking(|| {
        lab.engine
            .cli(&["image", "inspect", "--format", "{{.Id}}", &image])
            .unwrap()
    });
    assert_eq!(tagged, checked_id, "the local tag names the checked image");

    // A reference whose digest is not what the registry has under it is refused untouched.
    let wrong = format!("{image}@sha256:{}", "0".repeat(64));
    let refused = lab.update("digest-2", &wrong).await;
    assert_eq!(refused.outcome, Outcome::Refused, "{refused:#?}");
    assert_eq!(lab.inspect("web").await.image, web.image);
}

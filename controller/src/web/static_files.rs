//! The dashboard's static files, embedded in the binary: the stylesheet, the scripts, uPlot,
//! the icon, and the web app manifest (also served at `/manifest.webmanifest`, where browsers
//! look for it to install the dashboard on a phone's home screen).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Files served under `/assets/`: name, content type, bytes. Lookup is by exact name, so no
/// path (`..`, `%2e`, absolute) can reach anything else.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    (
        "container_logs.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/container_logs.js"),
    ),
    (
        "controls.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/controls.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("assets/favicon.svg"),
    ),
    // Made once from favicon.svg: `rsvg-convert -w 192 -h 192 favicon.svg -o icon-192.png`
    // (and 512), librsvg2-bin; docs/dashboard.md.
    (
        "icon-192.png",
        "image/png",
        include_bytes!("assets/icon-192.png"),
    ),
    (
        "icon-512.png",
        "image/png",
        include_bytes!("assets/icon-512.png"),
    ),
    (
        "manifest.webmanifest",
        MANIFEST_TYPE,
        include_bytes!("assets/manifest.webmanifest"),
    ),
    (
        "overview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/overview.js"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/passkeys.js"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/vendor/uPlot.min.css"),
    ),
    (
        "vendor/LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("assets/vendor/LICENSE"),
    ),
];

/// The web app manifest's content type.
const MANIFEST_TYPE: &str = "application/manifest+json";

/// `GET /assets/{*path}`.
pub async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// `GET /manifest.webmanifest`.
pub async fn manifest() -> Response {
    asset(Path("manifest.webmanifest".to_owned())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_by_exact_name_only() {
        assert!(ASSETS
            .iter()
            .any(|(name, _, bytes)| *name == "app.js" && !bytes.is_empty()));
        for hostile in [
            "../Cargo.toml",
            "vendor/../app.js",
            "/etc/passwd",
            "vendor",
            "",
        ] {
            assert!(
                !ASSETS.iter().any(|(name, _, _)| *name == hostile),
                "{hostile}"
            );
        }
    }

    #[test]
    fn issue_19_the_manifest_names_the_app_its_icon_and_theme_and_installs_standalone() {
        let (_, content_type, bytes) = ASSETS
            .iter()
            .find(|(name, _, _)| *name == "manifest.webmanifest")
            .unwrap();
        assert_eq!(*content_type, "application/manifest+json");
        let manifest: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(manifest["display"], "standalone");
        assert_eq!(manifest["short_name"], "Unity");
        assert_eq!(manifest["start_url"], "/");
        assert_eq!(
            manifest["theme_color"],
            crate::web::layout::THEME_COLOR,
            "the same colour as the pages' theme-color"
        );
        let icons = manifest["icons"].as_array().unwrap();
        for icon in icons {
            let src = icon["src"].as_str().unwrap();
            let name = src.strip_prefix("/assets/").unwrap();
            let (_, icon_type, _) = ASSETS.iter().find(|(asset, _, _)| *asset == name).unwrap();
            assert_eq!(icon["type"].as_str(), Some(*icon_type), "{src}");
        }
        assert!(!icons.is_empty());
        // PNG sizes for browsers that want them (192 and 512 px), real PNGs of that size.
        for (size, name) in [(192u32, "icon-192.png"), (512, "icon-512.png")] {
            assert!(
                icons
                    .iter()
                    .any(|icon| icon["src"] == format!("/assets/{name}")
                        && icon["sizes"] == format!("{size}x{size}")),
                "{name} in the manifest"
            );
            let (_, _, png) = ASSETS.iter().find(|(asset, _, _)| *asset == name).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name} is a PNG");
            let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
            assert_eq!((width, height), (size, size), "{name}");
        }
    }
}

//! Checks the browser tests run on a page (issue 19): elements sticking out of their box or
//! the viewport, duplicate element ids, axe-core's serious and critical violations, and the
//! login they start with. Shared by `dashboard_phone.rs` and `dashboard_homelab.rs`.

use crate::webdriver::Browser;
use std::time::Duration;

/// Finds elements that stick out: past the viewport's right edge, or whose content is wider
/// than their box when the box does not scroll (cut off or spilling). Returns descriptions.
pub const OVERFLOW_SCRIPT: &str = r##"
const viewport = document.documentElement.clientWidth;
const problems = [];
if (document.documentElement.scrollWidth > viewport + 1) {
  problems.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + viewport);
}
const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
  " '" + (el.textContent || "").trim().slice(0, 40) + "'";
const scrolls = (el) => { const x = getComputedStyle(el).overflowX; return x === "auto" || x === "scroll"; };
for (const el of document.body.querySelectorAll("*")) {
  if (el.closest("dialog:not([open]), script, .chart, .u-wrap, .uplot")) continue;
  const style = getComputedStyle(el);
  if (style.display === "none" || style.visibility === "hidden" || style.position === "fixed") continue;
  let inScroller = false;
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    if (scrolls(up)) { inScroller = true; break; }
  }
  if (inScroller) continue;
  const rect = el.getBoundingClientRect();
  if (rect.width === 0 || rect.height === 0) continue;
  if (rect.right > viewport + 1) {
    problems.push(describe(el) + " ends at " + Math.round(rect.right) + " px, past the viewport (" + viewport + ")");
  } else if (!scrolls(el) && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
    problems.push(describe(el) + " holds " + el.scrollWidth + " px in " + el.clientWidth + " px");
  }
}
return problems.slice(0, 20);
"##;

pub const DUPLICATE_IDS_SCRIPT: &str = r#"
const seen = new Map();
for (const el of document.querySelectorAll("[id]")) seen.set(el.id, (seen.get(el.id) || 0) + 1);
return [...seen].filter(([, n]) => n > 1).map(([id, n]) => id + " ×" + n);
"#;

/// Runs axe-core (already injected) on the page; returns its serious and critical violations.
pub const AXE_SCRIPT: &str = r##"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] })
  .then((result) => done(result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(", "))))
  .catch((error) => done(["axe failed: " + error]));
"##;

/// axe-core's script, as scripts/test installs it.
pub fn axe_source() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("a11y/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; install it with `npm ci --prefix tests/a11y` (scripts/test does)",
            path.display()
        )
    })
}

pub async fn log_in(
    browser: &mut Browser,
    base: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<()> {
    browser.goto(&format!("{base}/login")).await?;
    let username = browser
        .wait_for("#username", Duration::from_secs(10))
        .await?;
    browser.type_into(&username, user).await?;
    let password_field = browser.find("#password").await?;
    browser.type_into(&password_field, password).await?;
    let login = browser.find("#login").await?;
    browser.click(&login).await?;
    browser.wait_for("main h1", Duration::from_secs(10)).await?;
    Ok(())
}

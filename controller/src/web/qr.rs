//! A QR code drawn as inline SVG by maud: one `rect` per dark module, from `qrcode`'s module
//! matrix (no image crate, no SVG strings). Pure.

use maud::{html, Markup};
use qrcode::{Color, QrCode};

/// `text` as a QR code, or a note when it is too long for one.
pub fn render(text: &str) -> Markup {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return html! { p.muted { "(too long for a QR code)" } };
    };
    let width = code.width();
    let colors = code.to_colors();
    let size = width + 8;
    html! {
        svg.qr #totp-qr xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (size) " " (size) } width="200" height="200" shape-rendering="crispEdges" role="img" aria-label="QR code" {
            rect width=(size) height=(size) fill="#fff" {}
            @for (index, color) in colors.iter().enumerate() {
                @if *color == Color::Dark {
                    rect x=(index % width + 4) y=(index / width + 4) width="1" height="1" fill="#000" {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_uri_becomes_dark_modules() {
        let html = super::render("otpauth://totp/Unity:ada?secret=ABC").into_string();
        assert!(
            html.starts_with("<svg class=\"qr\" id=\"totp-qr\""),
            "{html}"
        );
        assert!(html.matches("fill=\"#000\"").count() > 100, "{html}");
    }
}

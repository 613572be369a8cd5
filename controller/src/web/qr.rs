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

    /// The drawing is the code: reading the dark squares back (inside the 4-module quiet
    /// zone) gives exactly `qrcode`'s module matrix, row by row.
    #[test]
    fn the_drawn_squares_are_the_module_matrix() {
        use qrcode::{Color, QrCode};
        let uri = "otpauth://totp/Unity:ada%40home?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Unity&algorithm=SHA1&digits=6&period=30";
        let html = super::render(uri).into_string();
        let code = QrCode::new(uri.as_bytes()).unwrap();
        let width = code.width();
        let mut drawn = vec![Color::Light; width * width];
        for rect in html.split("<rect ").skip(2) {
            let number = |name: &str| -> usize {
                let start = rect.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let end = start + rect[start..].find('"').unwrap();
                rect[start..end].parse().unwrap()
            };
            let (x, y) = (number("x") - 4, number("y") - 4);
            assert!(x < width && y < width, "{rect}");
            drawn[y * width + x] = Color::Dark;
        }
        assert_eq!(drawn, code.to_colors());
    }
}

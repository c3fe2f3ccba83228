//! Charts as files: PNG (plotters' bitmap backend, text rasterised from an embedded DejaVu Sans
//! through ab_glyph, so no system font is needed) and SVG (text as `<text>` elements in
//! `sans-serif`).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::{draw_chart, Chart, FONT, HEIGHT, WIDTH};

/// Registers the embedded font as `sans-serif` (once per process). Every bitmap needs it.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are DejaVu's own TTF files: parsing them cannot fail.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Writes `DIR/STEM.png` and `DIR/STEM.svg`; returns their paths.
pub fn write_chart(dir: &Path, stem: &str, chart: &Chart<'_>) -> Result<Vec<PathBuf>, String> {
    register_fonts();
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the plot folder: {e}", dir.display()))?;
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, chart)?;
        root.present()
            .map_err(|e| format!("{}: cannot write: {e}", png.display()))?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_chart(&root, chart)?;
        root.present()
            .map_err(|e| format!("{}: cannot write: {e}", svg.display()))?;
    }
    Ok(vec![png, svg])
}

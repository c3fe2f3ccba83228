//! A drawing backend that draws at a logical size onto a larger physical one.
//!
//! The simulator's charts (`flotilla_sim::plot`) are laid out in pixels for a chart about
//! 1200 px wide. On a page a chart is as wide as its column (a phone: ~360 CSS px) and the canvas
//! has `devicePixelRatio` physical pixels per CSS pixel. Wrapping the canvas backend in
//! [`Scaled`] lets the charts lay themselves out at a logical size chosen for readability, while
//! every coordinate, line width, radius and font size is multiplied by `k` on its way to the
//! canvas: crisp on high-density screens, and text that stays the same size relative to the
//! chart.

use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::Pos;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontFamily,
    FontStyle, FontTransform,
};

/// `inner`, seen at `1/k` of its size.
pub struct Scaled<B> {
    inner: B,
    k: f64,
}

impl<B: DrawingBackend> Scaled<B> {
    /// `k` physical pixels per logical pixel (clamped to 0.1–16).
    pub fn new(inner: B, k: f64) -> Self {
        let k = if k.is_finite() {
            k.clamp(0.1, 16.0)
        } else {
            1.0
        };
        Scaled { inner, k }
    }

    fn p(&self, c: BackendCoord) -> BackendCoord {
        (
            (f64::from(c.0) * self.k).round() as i32,
            (f64::from(c.1) * self.k).round() as i32,
        )
    }

    pub fn into_inner(self) -> B {
        self.inner
    }
}

struct Stroke<'a, S> {
    s: &'a S,
    k: f64,
}

impl<S: BackendStyle> BackendStyle for Stroke<'_, S> {
    fn color(&self) -> BackendColor {
        self.s.color()
    }
    fn stroke_width(&self) -> u32 {
        let w = self.s.stroke_width();
        if w == 0 {
            0
        } else {
            ((f64::from(w) * self.k).round() as u32).max(1)
        }
    }
}

struct Font<'a, T> {
    t: &'a T,
    k: f64,
}

impl<T: BackendTextStyle> BackendTextStyle for Font<'_, T> {
    type FontError = T::FontError;
    fn color(&self) -> BackendColor {
        self.t.color()
    }
    fn size(&self) -> f64 {
        self.t.size() * self.k
    }
    fn transform(&self) -> FontTransform {
        self.t.transform()
    }
    fn style(&self) -> FontStyle {
        self.t.style()
    }
    fn anchor(&self) -> Pos {
        self.t.anchor()
    }
    fn family(&self) -> FontFamily<'_> {
        self.t.family()
    }
    fn layout_box(&self, text: &str) -> Result<((i32, i32), (i32, i32)), Self::FontError> {
        let ((x0, y0), (x1, y1)) = self.t.layout_box(text)?;
        let s = |v: i32| (f64::from(v) * self.k).round() as i32;
        Ok(((s(x0), s(y0)), (s(x1), s(y1))))
    }
    fn draw<E, F: FnMut(i32, i32, BackendColor) -> Result<(), E>>(
        &self,
        text: &str,
        pos: BackendCoord,
        mut draw: F,
    ) -> Result<Result<(), E>, Self::FontError> {
        // Only for backends that rasterise text themselves (a canvas does not): the glyphs of
        // the logical size, spread out.
        let k = self.k;
        self.t.draw(text, pos, |x, y, c| {
            draw(
                (f64::from(x) * k).round() as i32,
                (f64::from(y) * k).round() as i32,
                c,
            )
        })
    }
}

impl<B: DrawingBackend> DrawingBackend for Scaled<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        (
            (f64::from(w) / self.k).floor().max(1.0) as u32,
            (f64::from(h) / self.k).floor().max(1.0) as u32,
        )
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        if self.k <= 1.0 {
            return self.inner.draw_pixel(self.p(point), color);
        }
        let a = self.p(point);
        let b = self.p((point.0 + 1, point.1 + 1));
        self.inner.draw_rect(a, (b.0 - 1, b.1 - 1), &color, true)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (a, b) = (self.p(from), self.p(to));
        self.inner.draw_line(
            a,
            b,
            &Stroke {
                s: style,
                k: self.k,
            },
        )
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let (a, b) = (self.p(upper_left), self.p(bottom_right));
        self.inner.draw_rect(
            a,
            b,
            &Stroke {
                s: style,
                k: self.k,
            },
            fill,
        )
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let pts: Vec<BackendCoord> = path.into_iter().map(|c| self.p(c)).collect();
        self.inner.draw_path(
            pts,
            &Stroke {
                s: style,
                k: self.k,
            },
        )
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let c = self.p(center);
        let r = (f64::from(radius) * self.k).round() as u32;
        self.inner.draw_circle(
            c,
            r,
            &Stroke {
                s: style,
                k: self.k,
            },
            fill,
        )
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let pts: Vec<BackendCoord> = vert.into_iter().map(|c| self.p(c)).collect();
        self.inner.fill_polygon(
            pts,
            &Stroke {
                s: style,
                k: self.k,
            },
        )
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let p = self.p(pos);
        self.inner.draw_text(
            text,
            &Font {
                t: style,
                k: self.k,
            },
            p,
        )
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        // Measured at the logical size: the answer is in logical pixels.
        self.inner.estimate_text_size(text, style)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use plotters::prelude::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// What a [`Recorder`] saw.
    #[derive(Default, Debug)]
    pub struct Log {
        pub lines: Vec<(BackendCoord, BackendCoord, u32)>,
        pub texts: Vec<(String, f64, BackendCoord)>,
        pub rects: usize,
        pub polys: usize,
        pub circles: Vec<u32>,
    }

    /// A backend that records what was drawn into a shared [`Log`].
    pub struct Recorder {
        pub size: (u32, u32),
        pub log: Rc<RefCell<Log>>,
    }

    impl Recorder {
        pub fn new(w: u32, h: u32) -> (Self, Rc<RefCell<Log>>) {
            let log = Rc::new(RefCell::new(Log::default()));
            (
                Recorder {
                    size: (w, h),
                    log: log.clone(),
                },
                log,
            )
        }
    }

    #[derive(Debug)]
    pub struct Never;
    impl std::fmt::Display for Never {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("never")
        }
    }
    impl std::error::Error for Never {}

    impl DrawingBackend for Recorder {
        type ErrorType = Never;
        fn get_size(&self) -> (u32, u32) {
            self.size
        }
        fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Never>> {
            Ok(())
        }
        fn present(&mut self) -> Result<(), DrawingErrorKind<Never>> {
            Ok(())
        }
        fn draw_pixel(
            &mut self,
            _: BackendCoord,
            _: BackendColor,
        ) -> Result<(), DrawingErrorKind<Never>> {
            Ok(())
        }
        fn draw_line<S: BackendStyle>(
            &mut self,
            a: BackendCoord,
            b: BackendCoord,
            s: &S,
        ) -> Result<(), DrawingErrorKind<Never>> {
            self.log.borrow_mut().lines.push((a, b, s.stroke_width()));
            Ok(())
        }
        fn draw_rect<S: BackendStyle>(
            &mut self,
            _: BackendCoord,
            _: BackendCoord,
            _: &S,
            _: bool,
        ) -> Result<(), DrawingErrorKind<Never>> {
            self.log.borrow_mut().rects += 1;
            Ok(())
        }
        fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
            &mut self,
            _: I,
            _: &S,
        ) -> Result<(), DrawingErrorKind<Never>> {
            self.log.borrow_mut().polys += 1;
            Ok(())
        }
        fn draw_circle<S: BackendStyle>(
            &mut self,
            _: BackendCoord,
            r: u32,
            _: &S,
            _: bool,
        ) -> Result<(), DrawingErrorKind<Never>> {
            self.log.borrow_mut().circles.push(r);
            Ok(())
        }
        fn draw_text<TStyle: BackendTextStyle>(
            &mut self,
            text: &str,
            style: &TStyle,
            pos: BackendCoord,
        ) -> Result<(), DrawingErrorKind<Never>> {
            self.log
                .borrow_mut()
                .texts
                .push((text.to_string(), style.size(), pos));
            Ok(())
        }
        fn estimate_text_size<TStyle: BackendTextStyle>(
            &self,
            text: &str,
            style: &TStyle,
        ) -> Result<(u32, u32), DrawingErrorKind<Never>> {
            let h = style.size() as u32;
            Ok((text.chars().count() as u32 * h / 2, h))
        }
    }

    #[test]
    fn scales_coordinates_strokes_radii_and_fonts() {
        let (rec, log) = Recorder::new(2000, 1000);
        let mut s = Scaled::new(rec, 2.0);
        assert_eq!(s.get_size(), (1000, 500));
        s.draw_line((10, 20), (30, 40), &Color::stroke_width(&RED, 3))
            .unwrap();
        s.draw_circle((5, 5), 4, &RED, true).unwrap();
        let font = TextStyle::from(("sans-serif", 17.0).into_font());
        s.draw_text("hello", &font, (100, 50)).unwrap();
        // Measured at the logical size.
        assert_eq!(s.estimate_text_size("hello", &font).unwrap(), (42, 17));
        let log = log.borrow();
        assert_eq!(log.lines, vec![((20, 40), (60, 80), 6)]);
        assert_eq!(log.circles, vec![8]);
        assert_eq!(log.texts, vec![("hello".to_string(), 34.0, (200, 100))]);
    }

    #[test]
    fn a_whole_chart_fits_the_physical_area() {
        let (rec, log) = Recorder::new(1200, 700);
        {
            let root = Scaled::new(rec, 1.5).into_drawing_area();
            root.fill(&WHITE).unwrap();
            let mut chart = ChartBuilder::on(&root)
                .caption("t", ("sans-serif", 20))
                .x_label_area_size(40)
                .y_label_area_size(40)
                .build_cartesian_2d(0.0..10.0, 0.0..10.0)
                .unwrap();
            chart.configure_mesh().draw().unwrap();
            chart
                .draw_series(LineSeries::new([(0.0, 0.0), (10.0, 10.0)], &BLUE))
                .unwrap();
        }
        let log = log.borrow();
        assert!(!log.lines.is_empty());
        for (a, b, _) in &log.lines {
            for p in [a, b] {
                assert!(p.0 >= 0 && p.0 <= 1200 && p.1 >= 0 && p.1 <= 700, "{p:?}");
            }
        }
        assert!(log
            .texts
            .iter()
            .any(|t| t.0 == "t" && (t.1 - 30.0).abs() < 1e-9));
    }
}

//! The credits-per-day chart: a server-rendered inline SVG (no script, no external library)
//! with a `<title>` and `<desc>` for screen readers, a `<title>` per bar, and axis labels.

use crate::http::html_escape;
use crate::services::reports::CreditDay;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// Bars of credits used (charges net of refunds) and granted per day, oldest day first.
pub fn credit_chart(days: &[CreditDay], caption: &str) -> String {
    let max = days
        .iter()
        .map(|d| d.used.max(d.granted))
        .max()
        .unwrap_or(0)
        .max(1);
    let total_used: i64 = days.iter().map(|d| d.used).sum();
    let total_granted: i64 = days.iter().map(|d| d.granted).sum();
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / days.len().max(1) as f64;
    let bar = (slot / 2.0 - 1.0).max(1.0);
    let caption = html_escape(caption);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">
<title id="chart-title">{caption}</title>
<desc id="chart-desc">Over {n} days: {total_used} credits used, {total_granted} credits granted. Highest day: {max}.</desc>
<line class="axis" x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}"/>
<line class="grid" x1="{LEFT}" y1="{TOP}" x2="{right}" y2="{TOP}"/>
<text class="label" x="{lx}" y="{ty}" text-anchor="end">{max}</text>
<text class="label" x="{lx}" y="{base}" text-anchor="end">0</text>
"#,
        n = days.len(),
        base = TOP + plot_h,
        right = WIDTH - 8.0,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
    );
    for (i, day) in days.iter().enumerate() {
        let x = LEFT + i as f64 * slot + 1.0;
        for (offset, value, class) in [(0.0, day.used, "used"), (bar, day.granted, "granted")] {
            let h =
                (value.max(0) as f64 / max as f64 * plot_h).max(if value > 0 { 1.0 } else { 0.0 });
            svg.push_str(&format!(
                r#"<rect class="{class}" x="{:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}"><title>{}: {} credits {class}</title></rect>"#,
                x + offset,
                TOP + plot_h - h,
                day.date,
                value,
            ));
        }
        if i == 0 || i + 1 == days.len() || i == days.len() / 2 {
            let anchor = if i == 0 {
                "start"
            } else if i + 1 == days.len() {
                "end"
            } else {
                "middle"
            };
            svg.push_str(&format!(
                r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                x + bar,
                HEIGHT - 8.0,
                &day.date[5..],
            ));
        }
        svg.push('\n');
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_titles_labels_and_escaped_text() {
        let days = vec![
            CreditDay {
                date: "2026-11-22".into(),
                used: 0,
                granted: 0,
            },
            CreditDay {
                date: "2026-11-23".into(),
                used: 15,
                granted: 250,
            },
        ];
        let svg = credit_chart(&days, "Credits of <Acme & Co>");
        assert!(svg.contains("<title id=\"chart-title\">Credits of &lt;Acme &amp; Co&gt;</title>"));
        assert!(svg.contains("<title>2026-11-23: 15 credits used</title>"));
        assert!(svg.contains("<title>2026-11-23: 250 credits granted</title>"));
        assert!(
            svg.contains(">250</text>"),
            "the y axis is labelled with the maximum"
        );
        assert!(svg.contains(">11-22</text>") && svg.contains(">11-23</text>"));
        assert!(svg.contains("Over 2 days: 15 credits used, 250 credits granted."));
    }
}

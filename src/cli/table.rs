//! Plain-text tables for the operator commands: left-aligned columns sized to
//! their widest cell, two spaces apart.

use chrono::{TimeZone, Utc};

/// Formats `rows` under `headers`.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut output = String::new();
    let header_cells: Vec<String> = headers.iter().map(|header| header.to_string()).collect();
    for row in std::iter::once(&header_cells).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        output.push_str(line.join("  ").trim_end());
        output.push('\n');
    }
    output
}

/// Formats Unix milliseconds as UTC time to the second.
pub fn time(millis: i64) -> String {
    match Utc.timestamp_millis_opt(millis).single() {
        Some(time) => time.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => millis.to_string(),
    }
}

/// Shortens `text` to `max` characters, marking the cut with `…`.
pub fn shorten(text: &str, max: usize) -> String {
    let single_line = text.replace(['\n', '\r'], " ");
    if single_line.chars().count() <= max {
        return single_line;
    }
    let mut short: String = single_line.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_to_widest_cell() {
        let table = render(
            &["id", "status"],
            &[
                vec!["1".into(), "pending".into()],
                vec!["22".into(), "ok".into()],
            ],
        );
        assert_eq!(table, "id  status\n1   pending\n22  ok\n");
    }

    #[test]
    fn long_text_is_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("a\nb", 4), "a b");
    }

    #[test]
    fn time_is_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
    }
}

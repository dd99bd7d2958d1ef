//! Request values computed per poll: `{{ last_success }}` in the values of
//! `source.query`.
//!
//! Parsed when the configuration loads, so an unknown name is a config
//! error; rendered at the start of every poll. Pure: the values are passed in.

use chrono::{DateTime, SecondsFormat, Utc};

/// A query value with `{{ name }}` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Placeholder {
    /// Start of the last successful poll, RFC 3339 in UTC, whole seconds.
    LastSuccess,
    /// Start of the last successful poll, Unix seconds.
    LastSuccessUnix,
}

/// The values that placeholders stand for in one poll.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateValues {
    pub last_success: Option<DateTime<Utc>>,
}

/// The names a template may use, for error messages.
pub const PLACEHOLDER_NAMES: &str = "{{ last_success }} and {{ last_success_unix }}";

impl Template {
    /// Parses `text`; the error names the problem.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed {{{{ in {text:?}: close it with }}}}"))?;
            let placeholder = match after[..close].trim() {
                "last_success" => Placeholder::LastSuccess,
                "last_success_unix" => Placeholder::LastSuccessUnix,
                other => {
                    return Err(format!(
                        "unknown placeholder {{{{ {other} }}}}: use {PLACEHOLDER_NAMES}"
                    ))
                }
            };
            parts.push(Part::Placeholder(placeholder));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Renders the template, or returns `None` when a placeholder has no
    /// value yet (before the first successful poll).
    pub fn render(&self, values: &TemplateValues) -> Option<String> {
        let mut output = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => output.push_str(text),
                Part::Placeholder(Placeholder::LastSuccess) => output.push_str(
                    &values
                        .last_success?
                        .to_rfc3339_opts(SecondsFormat::Secs, true),
                ),
                Part::Placeholder(Placeholder::LastSuccessUnix) => {
                    output.push_str(&values.last_success?.timestamp().to_string());
                }
            }
        }
        Some(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues {
        TemplateValues {
            last_success: Some(
                DateTime::parse_from_rfc3339("2026-12-04T10:00:05.750Z")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
        }
    }

    #[test]
    fn last_success_renders_rfc3339_seconds() {
        let template = Template::parse("{{ last_success }}").unwrap();
        assert_eq!(template.render(&values()).unwrap(), "2026-12-04T10:00:05Z");
    }

    #[test]
    fn text_around_placeholders_is_kept() {
        let template = Template::parse("updated>{{last_success_unix}};x").unwrap();
        assert_eq!(template.render(&values()).unwrap(), "updated>1796378405;x");
    }

    #[test]
    fn plain_text_renders_without_values() {
        let template = Template::parse("open").unwrap();
        assert_eq!(template.render(&TemplateValues::default()).unwrap(), "open");
    }

    #[test]
    fn missing_value_renders_nothing() {
        let template = Template::parse("{{ last_success }}").unwrap();
        assert_eq!(template.render(&TemplateValues::default()), None);
    }

    #[test]
    fn unknown_or_unclosed_placeholder_fails() {
        assert!(Template::parse("{{ now }}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(Template::parse("{{ last_success")
            .unwrap_err()
            .contains("unclosed"));
    }
}

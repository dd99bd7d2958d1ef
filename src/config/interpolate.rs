//! `${NAME}` substitution in config string values.
//!
//! `${NAME}` is replaced by the environment variable NAME and `$${` writes a
//! literal `${`. Every substituted value is registered as a secret, so it is
//! masked in all output. Works on figment's value tree before the tree is
//! deserialized, so that every string value of every key is covered.

use figment::value::{Dict, Value};

/// A `${NAME}` whose variable is not set, and the key it was found under.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingVariable {
    pub key: String,
    pub variable: String,
}

/// Replaces `${NAME}` in every string of `value`, collecting the variables
/// that are not set instead of stopping at the first.
pub fn interpolate_tree(
    value: &mut Value,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<MissingVariable>,
) {
    match value {
        Value::String(_, text) => {
            let (expanded, unset) = interpolate(text, lookup);
            missing.extend(unset.into_iter().map(|variable| MissingVariable {
                key: key.to_owned(),
                variable,
            }));
            *text = expanded;
        }
        Value::Dict(_, dict) => interpolate_dict(dict, key, lookup, missing),
        Value::Array(_, items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{key}[{index}]"), lookup, missing);
            }
        }
        _ => {}
    }
}

fn interpolate_dict(
    dict: &mut Dict,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    missing: &mut Vec<MissingVariable>,
) {
    for (name, child) in dict.iter_mut() {
        let child_key = if key.is_empty() {
            name.clone()
        } else {
            format!("{key}.{name}")
        };
        interpolate_tree(child, &child_key, lookup, missing);
    }
}

/// Expands one string; returns it with the names of unset variables.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, Vec<String>) {
    let mut output = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(tail) = after.strip_prefix("$${") {
            output.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                output.push_str(after);
                rest = "";
                break;
            };
            let name = tail[..end].trim();
            match lookup(name) {
                Some(value) => {
                    crate::redact::register(&value);
                    output.push_str(&value);
                }
                None => unset.push(name.to_owned()),
            }
            rest = &tail[end + 1..];
        } else {
            output.push('$');
            rest = &after[1..];
        }
    }
    output.push_str(rest);
    (output, unset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "tok-123".to_owned())
    }

    #[test]
    fn variables_are_substituted() {
        assert_eq!(
            interpolate("Bearer ${TOKEN}", &lookup),
            ("Bearer tok-123".to_owned(), vec![])
        );
    }

    #[test]
    fn double_dollar_is_literal() {
        assert_eq!(interpolate("a $${TOKEN} b", &lookup).0, "a ${TOKEN} b");
    }

    #[test]
    fn lone_dollar_is_kept() {
        assert_eq!(interpolate("$5 and $", &lookup).0, "$5 and $");
    }

    #[test]
    fn unset_variables_are_all_reported() {
        let (_, unset) = interpolate("${A}-${TOKEN}-${B}", &lookup);
        assert_eq!(unset, ["A", "B"]);
    }

    #[test]
    fn substituted_value_is_masked() {
        interpolate("${TOKEN}", &lookup);
        assert_eq!(crate::redact::mask("x tok-123 y"), "x *** y");
    }
}

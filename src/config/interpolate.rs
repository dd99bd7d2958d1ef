//! `${...}` substitution in config string values.
//!
//! `${NAME}` is replaced by the environment variable NAME, and `${file:/path}`
//! by the contents of a file. `${credential:NAME}` is replaced by the file
//! NAME in systemd's `$CREDENTIALS_DIRECTORY`. `$${` writes a literal `${`.
//! One trailing newline of a file is removed. Every substituted value is
//! registered as a secret, so it is masked in all output. Works on figment's
//! value tree before the tree is deserialized, so that every string value of
//! every key is covered.

use std::path::Path;

use figment::value::{Dict, Value};

/// A `${...}` reference that could not be resolved, and the key it was found
/// under.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub key: String,
    /// The error message: what failed and what to do, naming the variable or file.
    pub message: String,
}

/// Resolves the text between `${` and `}`: an environment variable, a
/// `file:` path or a `credential:` name. `env` reads environment variables.
pub fn resolve_reference(
    reference: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if let Some(path) = reference.strip_prefix("file:") {
        return read_secret_file(Path::new(path.trim()), reference);
    }
    if let Some(name) = reference.strip_prefix("credential:") {
        return read_credential(name.trim(), env);
    }
    env(reference).ok_or_else(|| {
        format!("environment variable {reference} is not set: export it before starting pollhook, or write $${{ for a literal ${{")
    })
}

/// Replaces `${...}` in every string of `value`, collecting the references
/// that cannot be resolved instead of stopping at the first.
pub fn interpolate_tree(
    value: &mut Value,
    key: &str,
    lookup: &dyn Fn(&str) -> Result<String, String>,
    unresolved: &mut Vec<Unresolved>,
) {
    match value {
        Value::String(_, text) => {
            let (expanded, problems) = interpolate(text, lookup);
            unresolved.extend(problems.into_iter().map(|message| Unresolved {
                key: key.to_owned(),
                message,
            }));
            *text = expanded;
        }
        Value::Dict(_, dict) => interpolate_dict(dict, key, lookup, unresolved),
        Value::Array(_, items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &format!("{key}[{index}]"), lookup, unresolved);
            }
        }
        _ => {}
    }
}

fn interpolate_dict(
    dict: &mut Dict,
    key: &str,
    lookup: &dyn Fn(&str) -> Result<String, String>,
    unresolved: &mut Vec<Unresolved>,
) {
    for (name, child) in dict.iter_mut() {
        let child_key = if key.is_empty() {
            name.clone()
        } else {
            format!("{key}.{name}")
        };
        interpolate_tree(child, &child_key, lookup, unresolved);
    }
}

/// Expands one string; returns it with the messages of the references that
/// could not be resolved.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Result<String, String>,
) -> (String, Vec<String>) {
    let mut output = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        output.push_str(&rest[..start]);
        let after = &rest[start..];
        if let Some(tail) = after.strip_prefix("$${") {
            output.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                problems.push(format!(
                    "unclosed ${{ in {text:?}: write ${{NAME}}, or $${{ for a literal ${{"
                ));
                output.push_str(after);
                rest = "";
                break;
            };
            let name = tail[..end].trim();
            if name.is_empty() {
                problems.push(
                    "empty ${}: write ${NAME} with the name of an environment variable".to_owned(),
                );
                rest = &tail[end + 1..];
                continue;
            }
            match lookup(name) {
                Ok(value) => {
                    crate::redact::register(&value);
                    output.push_str(&value);
                }
                Err(message) => problems.push(message),
            }
            rest = &tail[end + 1..];
        } else {
            output.push('$');
            rest = &after[1..];
        }
    }
    output.push_str(rest);
    (output, problems)
}

fn read_secret_file(path: &Path, reference: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        format!(
            "cannot read the secret file {} named by ${{{reference}}} ({error}): create it or correct the path",
            path.display()
        )
    })?;
    Ok(without_trailing_newline(text))
}

fn read_credential(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "invalid credential name {name:?} in ${{credential:{name}}}: use the name given to LoadCredential= or SetCredential=, without a path"
        ));
    }
    let Some(directory) = env("CREDENTIALS_DIRECTORY") else {
        return Err(format!(
            "${{credential:{name}}} needs $CREDENTIALS_DIRECTORY, which is not set: run pollhook under systemd with LoadCredential={name}:..., or use ${{file:/path}}"
        ));
    };
    let path = Path::new(&directory).join(name);
    std::fs::read_to_string(&path)
        .map(without_trailing_newline)
        .map_err(|error| {
            format!(
                "cannot read credential {name} at {} ({error}): check LoadCredential= in the unit file",
                path.display()
            )
        })
}

/// Removes one trailing `\n` or `\r\n`, which editors and `echo` add to files.
fn without_trailing_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "tok-123".to_owned())
    }

    fn lookup(reference: &str) -> Result<String, String> {
        resolve_reference(reference, &env)
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
        let (_, problems) = interpolate("${A}-${TOKEN}-${B}", &lookup);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("environment variable A is not set"));
        assert!(problems[1].contains("environment variable B is not set"));
    }

    #[test]
    fn file_reference_reads_file_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "file-secret-1\n").unwrap();
        let text = format!("Bearer ${{file:{}}}", path.display());
        assert_eq!(interpolate(&text, &lookup).0, "Bearer file-secret-1");
        assert_eq!(crate::redact::mask("x file-secret-1"), "x ***");
    }

    #[test]
    fn only_one_trailing_newline_is_removed() {
        assert_eq!(without_trailing_newline("a\r\n".into()), "a");
        assert_eq!(without_trailing_newline("a\n\n".into()), "a\n");
        assert_eq!(without_trailing_newline("a".into()), "a");
    }

    #[test]
    fn missing_file_names_the_path() {
        let (_, problems) = interpolate("${file:/nonexistent/pollhook-token}", &lookup);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("/nonexistent/pollhook-token"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn credential_is_read_from_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api-token"), "cred-secret-2\n").unwrap();
        let directory = dir.path().display().to_string();
        let env = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| directory.clone());
        assert_eq!(
            resolve_reference("credential:api-token", &env).unwrap(),
            "cred-secret-2"
        );
        let missing = resolve_reference("credential:other", &env).unwrap_err();
        assert!(missing.contains("credential other"), "{missing}");
        let escape = resolve_reference("credential:../etc/passwd", &env).unwrap_err();
        assert!(escape.contains("invalid credential name"), "{escape}");
    }

    #[test]
    fn credential_without_directory_explains_systemd() {
        let error = resolve_reference("credential:api-token", &|_| None).unwrap_err();
        assert!(error.contains("CREDENTIALS_DIRECTORY"), "{error}");
    }

    #[test]
    fn substituted_value_is_masked() {
        interpolate("${TOKEN}", &lookup);
        assert_eq!(crate::redact::mask("x tok-123 y"), "x *** y");
    }
}

//! Pagination: the URL of the next page, decided from the response to the
//! current one.
//!
//! A [`Paginator`] follows one poll's pages. It fails the poll rather than
//! return a partial list, because a missing page would look like deleted
//! items: a URL or cursor that repeats, and more pages than `max_pages`,
//! are errors. Pure: no I/O.

use std::collections::HashSet;

use serde_json::Value;
use thiserror::Error;
use url::Url;

use crate::jsonpath::JsonPath;
use crate::redact::{mask, mask_url};

/// The default of `source.pagination.max_pages`.
pub const DEFAULT_MAX_PAGES: u32 = 100;

/// How a source's pages are requested.
#[derive(Debug, Clone)]
pub struct Pagination {
    pub kind: PaginationKind,
    /// The most pages one poll requests; a poll that needs more fails.
    pub max_pages: u32,
}

#[derive(Debug, Clone)]
pub enum PaginationKind {
    /// The `rel="next"` URL of the `Link` header.
    Link,
    /// The URL at a JSONPath of the body.
    NextUrl { next: JsonPath },
    /// The value at a JSONPath of the body, sent as the query parameter `param`.
    Cursor { cursor: JsonPath, param: String },
    /// A page number or an item offset in the query parameter `param`.
    Counter(Counter),
}

/// Settings of `page` and `offset` pagination.
#[derive(Debug, Clone)]
pub struct Counter {
    pub unit: CounterUnit,
    pub param: String,
    /// The first page number or offset.
    pub start: u64,
    /// The page size parameter and its value, sent with every request.
    pub size: Option<(String, u64)>,
    /// The total number of items; without it, an empty page ends the list.
    pub total: Option<JsonPath>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterUnit {
    /// The counter goes up by one per page.
    Page,
    /// The counter goes up by the number of items on each page.
    Offset,
}

/// What the paginator needs to know about one page.
#[derive(Debug)]
pub struct PageResponse<'a> {
    /// The URL the page was requested from.
    pub url: &'a Url,
    /// The values of every `Link` header.
    pub link_headers: &'a [String],
    pub body: &'a Value,
    /// The number of items the items path selected on this page.
    pub items: usize,
}

#[derive(Debug, Error, PartialEq)]
pub enum PaginationError {
    #[error("pagination returned {url} a second time: the poll stops here instead of looping; check source.pagination")]
    RepeatedUrl { url: String },
    #[error("pagination returned the cursor {cursor} a second time: the poll stops here instead of looping; check source.pagination.cursor")]
    RepeatedCursor { cursor: String },
    #[error("the source has more than source.pagination.max_pages ({max_pages}) pages: raise max_pages, or request fewer items (a filter, a larger page size)")]
    TooManyPages { max_pages: u32 },
    #[error("pagination gave an invalid next URL {value}: {detail}")]
    InvalidUrl { value: String, detail: String },
    #[error("{key} {path} gave {found}, but it must be a string or an integer")]
    InvalidValue {
        key: &'static str,
        path: String,
        found: String,
    },
    #[error("source.pagination.total {path} matched nothing in the response: correct the path, or remove total to stop on an empty page")]
    TotalMissing { path: String },
}

/// Follows the pages of one poll.
#[derive(Debug)]
pub struct Paginator<'a> {
    pagination: &'a Pagination,
    /// The configured URL, to which cursor and counter parameters are added.
    base: Url,
    pages: u32,
    counter: u64,
    items: u64,
    seen_urls: HashSet<String>,
    seen_cursors: HashSet<String>,
}

impl<'a> Paginator<'a> {
    pub fn new(pagination: &'a Pagination, base: Url) -> Paginator<'a> {
        let counter = match &pagination.kind {
            PaginationKind::Counter(counter) => counter.start,
            _ => 0,
        };
        Paginator {
            pagination,
            base,
            pages: 0,
            counter,
            items: 0,
            seen_urls: HashSet::new(),
            seen_cursors: HashSet::new(),
        }
    }

    /// Returns the URL of the first page.
    pub fn first_url(&mut self) -> Url {
        let url = match &self.pagination.kind {
            PaginationKind::Counter(counter) => self.counter_url(counter),
            _ => self.base.clone(),
        };
        self.seen_urls.insert(url.to_string());
        url
    }

    /// Returns the URL of the page after `page`, or `None` after the last.
    pub fn next_url(&mut self, page: &PageResponse<'_>) -> Result<Option<Url>, PaginationError> {
        self.pages += 1;
        self.items += page.items as u64;
        let next = match &self.pagination.kind {
            PaginationKind::Link => next_link(page.link_headers, page.url)?,
            PaginationKind::NextUrl { next } => next_url_in_body(next, page)?,
            PaginationKind::Cursor { cursor, param } => self.cursor_url(cursor, param, page)?,
            PaginationKind::Counter(counter) => {
                let counter = counter.clone();
                self.next_counter_url(&counter, page)?
            }
        };
        let Some(next) = next else {
            return Ok(None);
        };
        if self.pages >= self.pagination.max_pages {
            return Err(PaginationError::TooManyPages {
                max_pages: self.pagination.max_pages,
            });
        }
        if !self.seen_urls.insert(next.to_string()) {
            return Err(PaginationError::RepeatedUrl {
                url: mask_url(next.as_str()),
            });
        }
        Ok(Some(next))
    }

    fn cursor_url(
        &mut self,
        path: &JsonPath,
        param: &str,
        page: &PageResponse<'_>,
    ) -> Result<Option<Url>, PaginationError> {
        let Some(cursor) = text_at(path, page.body, "source.pagination.cursor")? else {
            return Ok(None);
        };
        if !self.seen_cursors.insert(cursor.clone()) {
            return Err(PaginationError::RepeatedCursor {
                cursor: mask(&cursor).into_owned(),
            });
        }
        Ok(Some(with_query_param(&self.base, param, &cursor)))
    }

    fn next_counter_url(
        &mut self,
        counter: &Counter,
        page: &PageResponse<'_>,
    ) -> Result<Option<Url>, PaginationError> {
        if page.items == 0 {
            return Ok(None);
        }
        self.counter += match counter.unit {
            CounterUnit::Page => 1,
            CounterUnit::Offset => page.items as u64,
        };
        if let Some(path) = &counter.total {
            let total = total_at(path, page.body)?;
            if self.items >= total {
                return Ok(None);
            }
        }
        Ok(Some(self.counter_url(counter)))
    }

    fn counter_url(&self, counter: &Counter) -> Url {
        let mut url = with_query_param(&self.base, &counter.param, &self.counter.to_string());
        if let Some((param, size)) = &counter.size {
            url = with_query_param(&url, param, &size.to_string());
        }
        url
    }
}

/// Returns `url` with the query parameter `name` set to `value`, replacing
/// any earlier value of it.
pub fn with_query_param(url: &Url, name: &str, value: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    url
}

/// Finds the `rel="next"` target among the links of every `Link` header,
/// resolved against `base` (RFC 8288).
pub fn next_link(headers: &[String], base: &Url) -> Result<Option<Url>, PaginationError> {
    for header in headers {
        for (target, params) in parse_links(header) {
            let is_next = params.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("rel")
                    && value
                        .split_ascii_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return resolve(base, target).map(Some);
            }
        }
    }
    Ok(None)
}

/// Splits a `Link` header into targets and their parameters. Commas and
/// semicolons inside `<...>` and quoted strings do not split.
fn parse_links(header: &str) -> Vec<(&str, Vec<(String, String)>)> {
    let mut links = Vec::new();
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            break;
        };
        let target = &after[..close];
        rest = &after[close + 1..];

        let mut params = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(tail) = rest.strip_prefix(';') else {
                break;
            };
            let (param, tail) = split_param(tail);
            params.push(param);
            rest = tail;
        }
        links.push((target, params));
    }
    links
}

/// Reads one `name=value` or `name="value"` parameter from the start of
/// `text` and returns it with the rest.
fn split_param(text: &str) -> ((String, String), &str) {
    let text = text.trim_start();
    let name_end = text.find(['=', ';', ',']).unwrap_or(text.len());
    let name = text[..name_end].trim().to_owned();
    let Some(value_text) = text[name_end..].strip_prefix('=') else {
        return ((name, String::new()), &text[name_end..]);
    };
    let value_text = value_text.trim_start();
    if let Some(quoted) = value_text.strip_prefix('"') {
        let end = quoted.find('"').unwrap_or(quoted.len());
        let rest = quoted.get(end + 1..).unwrap_or("");
        return ((name, quoted[..end].to_owned()), rest);
    }
    let end = value_text.find([';', ',']).unwrap_or(value_text.len());
    (
        (name, value_text[..end].trim().to_owned()),
        &value_text[end..],
    )
}

fn next_url_in_body(
    path: &JsonPath,
    page: &PageResponse<'_>,
) -> Result<Option<Url>, PaginationError> {
    match text_at(path, page.body, "source.pagination.next")? {
        Some(text) => resolve(page.url, &text).map(Some),
        None => Ok(None),
    }
}

fn resolve(base: &Url, target: &str) -> Result<Url, PaginationError> {
    base.join(target.trim())
        .map_err(|error| PaginationError::InvalidUrl {
            value: mask(target).into_owned(),
            detail: error.to_string(),
        })
}

/// Reads a string or integer at `path`; a missing node, null, `false` or an
/// empty string means there is no next page.
fn text_at(
    path: &JsonPath,
    body: &Value,
    key: &'static str,
) -> Result<Option<String>, PaginationError> {
    match path.select(body).first() {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(Some(number.to_string()))
        }
        Some(other) => Err(PaginationError::InvalidValue {
            key,
            path: path.to_string(),
            found: other.to_string().chars().take(40).collect(),
        }),
    }
}

fn total_at(path: &JsonPath, body: &Value) -> Result<u64, PaginationError> {
    let invalid = |found: &Value| PaginationError::InvalidValue {
        key: "source.pagination.total",
        path: path.to_string(),
        found: found.to_string().chars().take(40).collect(),
    };
    match path.select(body).first() {
        None => Err(PaginationError::TotalMissing {
            path: path.to_string(),
        }),
        Some(Value::Number(number)) => number
            .as_u64()
            .ok_or_else(|| invalid(&Value::Number(number.clone()))),
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map_err(|_| invalid(&Value::String(text.clone()))),
        Some(other) => Err(invalid(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn path(text: &str) -> JsonPath {
        JsonPath::parse(text).unwrap()
    }

    fn pagination(kind: PaginationKind) -> Pagination {
        Pagination {
            kind,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }

    fn page<'a>(
        url: &'a Url,
        links: &'a [String],
        body: &'a Value,
        items: usize,
    ) -> PageResponse<'a> {
        PageResponse {
            url,
            link_headers: links,
            body,
            items,
        }
    }

    #[test]
    fn link_next_in_any_position_is_resolved() {
        let base = url("https://api.example.com/v1/items?page=1");
        let headers = vec![
            r#"<https://api.example.com/v1/items?page=1>; rel="first", </v1/items?page=2&a=b,c>; rel="next last""#.to_owned(),
        ];
        let next = next_link(&headers, &base).unwrap().unwrap();
        assert_eq!(
            next.as_str(),
            "https://api.example.com/v1/items?page=2&a=b,c"
        );
    }

    #[test]
    fn link_next_in_second_header_and_unquoted() {
        let base = url("https://api.example.com/items");
        let headers = vec![
            "<?p=0>; rel=prev".to_owned(),
            "<?p=2>; title=\"a; b, c\"; rel=next".to_owned(),
        ];
        let next = next_link(&headers, &base).unwrap().unwrap();
        assert_eq!(next.as_str(), "https://api.example.com/items?p=2");
    }

    #[test]
    fn link_without_next_ends() {
        let base = url("https://api.example.com/items");
        let headers = vec!["<?p=1>; rel=\"prev\"".to_owned()];
        assert_eq!(next_link(&headers, &base).unwrap(), None);
        assert_eq!(next_link(&[], &base).unwrap(), None);
    }

    #[test]
    fn next_url_from_body_is_resolved_and_null_ends() {
        let config = pagination(PaginationKind::NextUrl {
            next: path("$.links.next"),
        });
        let base = url("https://api.example.com/v1/items");
        let mut paginator = Paginator::new(&config, base.clone());
        let first = paginator.first_url();
        let body = json!({"links": {"next": "items?after=5"}});
        let next = paginator
            .next_url(&page(&first, &[], &body, 5))
            .unwrap()
            .unwrap();
        assert_eq!(next.as_str(), "https://api.example.com/v1/items?after=5");
        let last = json!({"links": {"next": null}});
        assert_eq!(
            paginator.next_url(&page(&next, &[], &last, 5)).unwrap(),
            None
        );
    }

    #[test]
    fn repeated_next_url_fails() {
        let config = pagination(PaginationKind::NextUrl {
            next: path("$.next"),
        });
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        let body = json!({"next": "https://api.example.com/items"});
        let error = paginator
            .next_url(&page(&first, &[], &body, 1))
            .unwrap_err();
        assert!(matches!(error, PaginationError::RepeatedUrl { .. }));
    }

    #[test]
    fn cursor_is_sent_on_the_base_url() {
        let config = pagination(PaginationKind::Cursor {
            cursor: path("$.meta.next_cursor"),
            param: "cursor".into(),
        });
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items?limit=2"));
        let first = paginator.first_url();
        assert_eq!(first.as_str(), "https://api.example.com/items?limit=2");
        let body = json!({"meta": {"next_cursor": "c2"}});
        let second = paginator
            .next_url(&page(&first, &[], &body, 2))
            .unwrap()
            .unwrap();
        assert_eq!(
            second.as_str(),
            "https://api.example.com/items?limit=2&cursor=c2"
        );
        let body = json!({"meta": {"next_cursor": 17}});
        let third = paginator
            .next_url(&page(&second, &[], &body, 2))
            .unwrap()
            .unwrap();
        assert_eq!(
            third.as_str(),
            "https://api.example.com/items?limit=2&cursor=17"
        );
        let body = json!({"meta": {"next_cursor": ""}});
        assert_eq!(
            paginator.next_url(&page(&third, &[], &body, 1)).unwrap(),
            None
        );
    }

    #[test]
    fn repeated_cursor_fails() {
        let config = pagination(PaginationKind::Cursor {
            cursor: path("$.next"),
            param: "cursor".into(),
        });
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        let body = json!({"next": "abc"});
        let second = paginator
            .next_url(&page(&first, &[], &body, 1))
            .unwrap()
            .unwrap();
        let error = paginator
            .next_url(&page(&second, &[], &body, 1))
            .unwrap_err();
        assert_eq!(
            error,
            PaginationError::RepeatedCursor {
                cursor: "abc".into()
            }
        );
    }

    #[test]
    fn object_cursor_is_invalid() {
        let config = pagination(PaginationKind::Cursor {
            cursor: path("$.next"),
            param: "cursor".into(),
        });
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        let body = json!({"next": {"a": 1}});
        let error = paginator
            .next_url(&page(&first, &[], &body, 1))
            .unwrap_err();
        assert!(matches!(error, PaginationError::InvalidValue { .. }));
    }

    fn counter(unit: CounterUnit, start: u64, total: Option<&str>) -> Pagination {
        pagination(PaginationKind::Counter(Counter {
            unit,
            param: if unit == CounterUnit::Page {
                "page"
            } else {
                "offset"
            }
            .into(),
            start,
            size: Some(("per_page".into(), 2)),
            total: total.map(path),
        }))
    }

    #[test]
    fn page_counter_stops_on_empty_page() {
        let config = counter(CounterUnit::Page, 1, None);
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items?page=9"));
        let first = paginator.first_url();
        assert_eq!(
            first.as_str(),
            "https://api.example.com/items?page=1&per_page=2"
        );
        let body = json!({});
        let second = paginator
            .next_url(&page(&first, &[], &body, 2))
            .unwrap()
            .unwrap();
        assert_eq!(
            second.as_str(),
            "https://api.example.com/items?page=2&per_page=2"
        );
        assert_eq!(
            paginator.next_url(&page(&second, &[], &body, 0)).unwrap(),
            None
        );
    }

    #[test]
    fn offset_counter_stops_at_total() {
        let config = counter(CounterUnit::Offset, 0, Some("$.total"));
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        assert_eq!(
            first.as_str(),
            "https://api.example.com/items?offset=0&per_page=2"
        );
        let body = json!({"total": "3"});
        let second = paginator
            .next_url(&page(&first, &[], &body, 2))
            .unwrap()
            .unwrap();
        assert_eq!(
            second.as_str(),
            "https://api.example.com/items?offset=2&per_page=2"
        );
        assert_eq!(
            paginator.next_url(&page(&second, &[], &body, 1)).unwrap(),
            None
        );
    }

    #[test]
    fn missing_total_fails() {
        let config = counter(CounterUnit::Page, 1, Some("$.meta.total"));
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        let error = paginator
            .next_url(&page(&first, &[], &json!({}), 2))
            .unwrap_err();
        assert!(matches!(error, PaginationError::TotalMissing { .. }));
    }

    #[test]
    fn more_pages_than_max_fails() {
        let mut config = counter(CounterUnit::Page, 1, None);
        config.max_pages = 2;
        let mut paginator = Paginator::new(&config, url("https://api.example.com/items"));
        let first = paginator.first_url();
        let body = json!({});
        let second = paginator
            .next_url(&page(&first, &[], &body, 2))
            .unwrap()
            .unwrap();
        let error = paginator
            .next_url(&page(&second, &[], &body, 2))
            .unwrap_err();
        assert_eq!(error, PaginationError::TooManyPages { max_pages: 2 });
    }
}

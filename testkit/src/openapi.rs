//! Validation of requests and responses against GitHub's OpenAPI description.
//!
//! The description lives outside the project, in `../shared/data/github/openapi-runner-endpoints.json`
//! (relative to the workspace root). It is dereferenced (no `$ref`) and uses the OpenAPI 3.0 subset
//! of JSON Schema: `type`, `nullable`, `enum`, `format`, `properties`, `required`,
//! `additionalProperties`, `items`, `minItems`, `maxItems`, `oneOf`, `anyOf`, `allOf`. This module
//! implements exactly that subset, so no JSON Schema engine is needed.
//!
//! Semantics worth knowing:
//! - `nullable: true` admits `null` (OpenAPI 3.0), whatever `type` and `enum` say.
//! - `oneOf` is checked as `anyOf`: GitHub's branches overlap (a `null` matches every nullable
//!   branch), so "exactly one" would reject real responses.
//! - `format: date-time` must parse as RFC 3339; `format: uri` must carry a scheme. Other formats
//!   (`int64`, `email`, ...) are not checked.
//! - A response whose status the operation does not document is accepted only for error statuses
//!   (4xx/5xx) and only with GitHub's generic error body (`message`, optional `documentation_url`):
//!   GitHub answers 401/403/404/429/5xx on every operation while the description lists few of them.
//!
//! Other crates' tests can use it directly:
//! ```no_run
//! if let Some(spec) = flotilla_testkit::openapi::Spec::shared() {
//!     let body = serde_json::json!({"total_count": 0, "runners": []});
//!     spec.validate_response("GET", "/orgs/acme/actions/runners", 200, Some(&body)).unwrap();
//! }
//! ```
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// File name of the description inside `<data dir>/github/`.
pub const SPEC_FILE: &str = "openapi-runner-endpoints.json";

/// The shared data directory (`../shared/data` from the workspace root), if it exists.
///
/// Looked up in order: `$FLOTILLA_DATA_DIR`, `<this crate>/../../shared/data` (the workspace's
/// sibling `shared/`), `./../shared/data` and `./shared/data` relative to the current directory.
pub fn data_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("FLOTILLA_DATA_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    candidates.push(PathBuf::from("../shared/data"));
    candidates.push(PathBuf::from("shared/data"));
    candidates.into_iter().find(|p| p.is_dir())
}

/// Path of the OpenAPI description, if present.
pub fn spec_path() -> Option<PathBuf> {
    let p = data_dir()?.join("github").join(SPEC_FILE);
    p.is_file().then_some(p)
}

/// One operation of the description.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template, e.g. `/orgs/{org}/actions/runners/{runner_id}`.
    pub path: String,
    /// GitHub's operation id, e.g. `actions/list-self-hosted-runners-for-org`.
    pub operation_id: String,
    /// Documentation URL of the operation.
    pub docs_url: Option<String>,
    /// JSON schema of the request body, if the operation takes one.
    pub request_schema: Option<Value>,
    /// Whether the request body is required.
    pub request_required: bool,
    /// Documented responses: status code → JSON schema of the body (None: no body).
    pub responses: BTreeMap<u16, Option<Value>>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Param,
}

impl Operation {
    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        if path == self.path {
            return true;
        }
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        parts.len() == self.segments.len()
            && parts.iter().zip(&self.segments).all(|(p, s)| match s {
                Segment::Literal(l) => l == p,
                Segment::Param => !p.is_empty(),
            })
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }
}

/// The loaded description.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Every operation, in file order.
    pub operations: Vec<Operation>,
}

static SHARED: OnceLock<Option<Spec>> = OnceLock::new();

impl Spec {
    /// Load a description file.
    pub fn load(path: &Path) -> Result<Spec, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Spec::from_value(&doc)
    }

    /// Build from an already parsed description.
    pub fn from_value(doc: &Value) -> Result<Spec, String> {
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("no `paths` in the OpenAPI document")?;
        let mut operations = Vec::new();
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let mut responses = BTreeMap::new();
                if let Some(rs) = op.get("responses").and_then(Value::as_object) {
                    for (code, r) in rs {
                        let Ok(code) = code.parse::<u16>() else {
                            continue;
                        };
                        let schema = r.pointer("/content/application~1json/schema").cloned();
                        responses.insert(code, schema);
                    }
                }
                let request_schema = op
                    .pointer("/requestBody/content/application~1json/schema")
                    .cloned();
                let request_required = op
                    .pointer("/requestBody/required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let segments = path
                    .split('/')
                    .skip(1)
                    .map(|s| {
                        if s.starts_with('{') && s.ends_with('}') {
                            Segment::Param
                        } else {
                            Segment::Literal(s.to_string())
                        }
                    })
                    .collect();
                operations.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.clone(),
                    operation_id: op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    docs_url: op
                        .pointer("/externalDocs/url")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    request_schema,
                    request_required,
                    responses,
                    segments,
                });
            }
        }
        Ok(Spec { operations })
    }

    /// The description from the shared data directory, loaded once per process.
    ///
    /// Returns `None` — after printing a loud message on stderr — when the data directory or the
    /// file is absent; callers skip their validation (tests: return early) in that case.
    pub fn shared() -> Option<&'static Spec> {
        SHARED
            .get_or_init(|| match spec_path() {
                Some(p) => match Spec::load(&p) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        eprintln!("!!! flotilla-testkit: cannot load GitHub OpenAPI description: {e}; schema validation SKIPPED");
                        None
                    }
                },
                None => {
                    eprintln!(
                        "!!! flotilla-testkit: ../shared/data/github/{SPEC_FILE} not found (set FLOTILLA_DATA_DIR?): \
                         GitHub OpenAPI schema validation SKIPPED"
                    );
                    None
                }
            })
            .as_ref()
    }

    /// The operation for a method and a concrete path (or a path template).
    ///
    /// When several templates match, the one with the most literal segments wins
    /// (`/runners/downloads` over `/runners/{runner_id}`).
    pub fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or(path);
        self.operations
            .iter()
            .filter(|o| o.matches(method, path))
            .max_by_key(|o| o.literal_count())
    }

    /// Validate a response. `body` is `None` for an empty body.
    pub fn validate_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        let op = self.find(method, path).ok_or_else(|| {
            vec![format!(
                "{method} {path}: no such operation in the description"
            )]
        })?;
        let ctx = format!("{method} {} → {status}", op.path);
        match op.responses.get(&status) {
            Some(Some(schema)) => match body {
                Some(b) => {
                    let errs = validate(schema, b);
                    if errs.is_empty() {
                        Ok(())
                    } else {
                        Err(errs.into_iter().map(|e| format!("{ctx}: {e}")).collect())
                    }
                }
                None => Err(vec![format!(
                    "{ctx}: documented with a JSON body, got none"
                )]),
            },
            Some(None) => match body {
                None => Ok(()),
                Some(_) => Err(vec![format!("{ctx}: documented without a body, got one")]),
            },
            None if status >= 400 => {
                match body {
                    Some(b) => {
                        let errs = validate(&generic_error_schema(), b);
                        if errs.is_empty() {
                            Ok(())
                        } else {
                            Err(errs
                            .into_iter()
                            .map(|e| format!("{ctx} (undocumented error status, generic error body): {e}"))
                            .collect())
                        }
                    }
                    None => Ok(()),
                }
            }
            None if status == 304 => Ok(()),
            None => Err(vec![format!(
                "{ctx}: status not documented (documented: {:?})",
                op.responses.keys().collect::<Vec<_>>()
            )]),
        }
    }

    /// Validate a request body against the operation's request schema.
    pub fn validate_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        let op = self.find(method, path).ok_or_else(|| {
            vec![format!(
                "{method} {path}: no such operation in the description"
            )]
        })?;
        match (&op.request_schema, body) {
            (Some(schema), Some(b)) => {
                let errs = validate(schema, b);
                if errs.is_empty() {
                    Ok(())
                } else {
                    Err(errs)
                }
            }
            (Some(_), None) if op.request_required => {
                Err(vec!["a request body is required".into()])
            }
            _ => Ok(()),
        }
    }
}

/// GitHub's "Basic Error" body, used for error statuses an operation does not document.
pub fn generic_error_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "documentation_url": {"type": "string"},
            "url": {"type": "string"},
            "status": {"type": "string"}
        }
    })
}

/// Validate `value` against an OpenAPI 3.0 schema; returns every violation found (empty: valid).
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    check(schema, value, "$", &mut errs);
    errs
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn check(schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    let nullable = s.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    if v.is_null() && nullable {
        return;
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(sub, v, at, errs);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(any) = s.get(key).and_then(Value::as_array) {
            let mut branch_errs = Vec::new();
            let ok = any.iter().any(|sub| {
                let mut e = Vec::new();
                check(sub, v, at, &mut e);
                if !e.is_empty() {
                    branch_errs.push(e.join("; "));
                }
                e.is_empty()
            });
            if !ok {
                errs.push(format!(
                    "{at}: matches no branch of {key} ({})",
                    branch_errs.join(" | ")
                ));
            }
        }
    }
    let type_error = match s.get("type") {
        Some(Value::String(ty)) if !type_ok(ty, v) => Some(format!(
            "{at}: expected {ty}, got {} {}",
            type_name(v),
            short(v)
        )),
        Some(Value::Array(tys)) if !tys.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)) => {
            Some(format!(
                "{at}: expected one of {tys:?}, got {}",
                type_name(v)
            ))
        }
        _ => None,
    };
    if let Some(e) = type_error {
        errs.push(e);
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errs.push(format!(
                "{at}: {} is not one of {}",
                short(v),
                Value::Array(allowed.clone())
            ));
        }
    }
    if let (Some(fmt), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
        match fmt {
            "date-time" if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                errs.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
            }
            "uri" if !text.contains(':') => {
                errs.push(format!("{at}: {text:?} is not a URI"));
            }
            _ => {}
        }
    }
    if let Value::Object(obj) = v {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(req) = s.get("required").and_then(Value::as_array) {
            for name in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    errs.push(format!("{at}: missing required property `{name}`"));
                }
            }
        }
        for (k, val) in obj {
            let child = format!("{at}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(ps, val, &child, errs),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errs.push(format!("{at}: unexpected property `{k}`"))
                    }
                    Some(ap @ Value::Object(_)) => check(ap, val, &child, errs),
                    _ => {}
                },
            }
        }
    }
    if let Value::Array(items) = v {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                errs.push(format!(
                    "{at}: {} items, fewer than minItems {min}",
                    items.len()
                ));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if (items.len() as u64) > max {
                errs.push(format!(
                    "{at}: {} items, more than maxItems {max}",
                    items.len()
                ));
            }
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{at}[{i}]"), errs);
            }
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_enum_and_required() {
        let s = json!({"type":"object","required":["a"],"properties":{
            "a":{"type":"string","nullable":true,"enum":["x","y"]},
            "b":{"type":"integer"},
            "t":{"type":"string","format":"date-time"}}});
        assert!(validate(&s, &json!({"a": null})).is_empty());
        assert!(validate(&s, &json!({"a": "x", "b": 3, "t": "2024-01-01T00:00:00Z"})).is_empty());
        assert_eq!(validate(&s, &json!({"a": "z"})).len(), 1);
        assert_eq!(validate(&s, &json!({"b": 1.5})).len(), 2);
        assert_eq!(validate(&s, &json!({"a": "x", "t": "yesterday"})).len(), 1);
    }

    #[test]
    fn additional_properties_false_and_items() {
        let s = json!({"type":"object","properties":{},"additionalProperties":false});
        assert!(validate(&s, &json!({})).is_empty());
        assert_eq!(validate(&s, &json!({"x": 1})).len(), 1);
        let a = json!({"type":"array","minItems":1,"maxItems":2,"items":{"type":"integer"}});
        assert!(validate(&a, &json!([1])).is_empty());
        assert_eq!(validate(&a, &json!([])).len(), 1);
        assert_eq!(validate(&a, &json!([1, "2", 3])).len(), 2);
    }

    #[test]
    fn any_of_branches() {
        let s = json!({"anyOf":[{"type":"string"},{"type":"integer"}]});
        assert!(validate(&s, &json!(1)).is_empty());
        assert_eq!(validate(&s, &json!(true)).len(), 1);
    }
}

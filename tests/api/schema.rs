//! A validator for the subset of JSON Schema 2020-12 that the OpenAPI document uses:
//! `type` (one or several, `"null"` among them), `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `oneOf`, `anyOf`, `allOf`,
//! `minimum`, `maximum` and `$ref` into `components/schemas`. `format` and `pattern`
//! are not checked; any other keyword is refused, so that the document cannot grow a
//! rule these tests would silently skip.

use serde_json::Value;

/// Keywords that describe and do not constrain (or that these tests leave aside).
const IGNORED: &[&str] = &[
    "description",
    "title",
    "format",
    "pattern",
    "default",
    "examples",
];

/// Validates values against the schemas of one OpenAPI document.
pub struct Validator<'d> {
    doc: &'d Value,
    /// Whether an object schema that lists `properties` and says nothing of
    /// `additionalProperties` refuses other members: answers must carry nothing the
    /// document does not name.
    closed: bool,
}

impl<'d> Validator<'d> {
    /// Checks answers: an object carries only the members its schema names.
    pub fn answers(doc: &'d Value) -> Self {
        Validator { doc, closed: true }
    }

    /// Checks request bodies, as JSON Schema reads them.
    pub fn requests(doc: &'d Value) -> Self {
        Validator { doc, closed: false }
    }

    /// `Ok` when `value` matches `schema`, else every mismatch found, one a line.
    pub fn check(&self, schema: &Value, value: &Value) -> Result<(), String> {
        let mut errors = Vec::new();
        self.walk(schema, value, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let keywords = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{at}: no value is allowed")),
            Value::Object(map) => map,
            other => return errors.push(format!("{at}: {other} is no schema")),
        };
        for (keyword, rule) in keywords {
            match keyword.as_str() {
                "$ref" => self.reference(rule, value, at, errors),
                "type" => type_of(rule, value, at, errors),
                "enum" => {
                    let allowed = rule.as_array().cloned().unwrap_or_default();
                    if !allowed.contains(value) {
                        errors.push(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                "const" if rule != value => {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
                "const" => {}
                "properties" | "required" | "additionalProperties" => {}
                "items" => {
                    if let Value::Array(items) = value {
                        for (i, item) in items.iter().enumerate() {
                            self.walk(rule, item, &format!("{at}[{i}]"), errors);
                        }
                    }
                }
                "oneOf" | "anyOf" | "allOf" => self.combine(keyword, rule, value, at, errors),
                "minimum" | "maximum" => bound(keyword, rule, value, at, errors),
                k if IGNORED.contains(&k) => {}
                k => errors.push(format!("{at}: keyword {k:?} is not supported")),
            }
        }
        if let Value::Object(members) = value {
            self.object(keywords, members, at, errors);
        }
    }

    fn reference(&self, rule: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let target = rule
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .and_then(|name| self.doc["components"]["schemas"].get(name));
        match target {
            Some(schema) => self.walk(schema, value, at, errors),
            None => errors.push(format!("{at}: $ref {rule} leads nowhere")),
        }
    }

    fn combine(
        &self,
        keyword: &str,
        rule: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let branches = rule.as_array().cloned().unwrap_or_default();
        let failures: Vec<String> = branches
            .iter()
            .filter_map(|b| self.check(b, value).err())
            .collect();
        let matched = branches.len() - failures.len();
        let ok = match keyword {
            "oneOf" => matched == 1,
            "anyOf" => matched >= 1,
            _ => failures.is_empty(),
        };
        if !ok {
            errors.push(format!(
                "{at}: {keyword} matched {matched} of {} branches:\n  {}",
                branches.len(),
                failures.join("\n  ")
            ));
        }
    }

    fn object(
        &self,
        keywords: &serde_json::Map<String, Value>,
        members: &serde_json::Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let empty = serde_json::Map::new();
        let properties = keywords
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for name in keywords
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !members.contains_key(name) {
                errors.push(format!("{at}: required member {name:?} is missing"));
            }
        }
        let others = match keywords.get("additionalProperties") {
            Some(rule) => Some(rule.clone()),
            None if self.closed && keywords.contains_key("properties") => Some(Value::Bool(false)),
            None => None,
        };
        for (name, member) in members {
            let here = format!("{at}.{name}");
            match (properties.get(name), &others) {
                (Some(schema), _) => self.walk(schema, member, &here, errors),
                (None, Some(Value::Bool(false))) => {
                    errors.push(format!("{here}: member not in the schema"));
                }
                (None, Some(rule)) => self.walk(rule, member, &here, errors),
                (None, None) => {}
            }
        }
    }
}

fn type_of(rule: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let names: Vec<&str> = match rule {
        Value::String(one) => vec![one.as_str()],
        Value::Array(several) => several.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let fits = |name: &str| match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    };
    if !names.iter().any(|n| fits(n)) {
        errors.push(format!("{at}: {value} is not of type {rule}"));
    }
}

fn bound(keyword: &str, rule: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let (Some(limit), Some(n)) = (rule.as_f64(), value.as_f64()) else {
        return;
    };
    let ok = if keyword == "minimum" {
        n >= limit
    } else {
        n <= limit
    };
    if !ok {
        errors.push(format!("{at}: {n} breaks {keyword} {limit}"));
    }
}

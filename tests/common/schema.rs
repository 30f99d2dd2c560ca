//! The published JSON Schemas (schema/finding.schema.json,
//! schema/document.schema.json) as a check on what tests read: every
//! findings record and JSON document a test reads through these helpers
//! must validate, so the schemas and the writers cannot drift apart.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `$id` of the findings record schema (the document's `$ref` to it
/// resolves here).
const FINDING_ID: &str = "https://github.com/synsweep/synsweep/schema/finding.schema.json";

fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name)
}

fn load(name: &str) -> Value {
    let p = schema_path(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Serves the findings record schema to the document schema's `$ref`
/// (nothing is fetched from the network).
struct Local;

impl jsonschema::Retrieve for Local {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str() == FINDING_ID {
            Ok(load("finding.schema.json"))
        } else {
            Err(format!("schema {uri} is not in schema/").into())
        }
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(Local)
        .build(&load(name))
        .unwrap_or_else(|e| panic!("schema/{name} does not compile: {e}"))
}

fn finding_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| validator("finding.schema.json"))
}

fn document_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| validator("document.schema.json"))
}

/// Why `v` is not a valid findings record (empty when it is).
pub fn record_errors(v: &Value) -> Vec<String> {
    finding_validator()
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Why `v` is not a valid JSON document (empty when it is).
pub fn document_errors(v: &Value) -> Vec<String> {
    document_validator()
        .iter_errors(v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panic unless `v` is a valid findings record. A `diff` change record
/// (`change`: opened, closed, changed) is a findings record with more
/// fields; a host's grade change (`change`: grade) is not one and is not
/// checked.
pub fn check_record(v: &Value) {
    if v["change"] == "grade" {
        return;
    }
    let errs = record_errors(v);
    assert!(
        errs.is_empty(),
        "record does not validate against schema/finding.schema.json: {errs:?}\n{v}"
    );
}

/// Read a JSON document and panic unless it validates.
pub fn read_document(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let errs = document_errors(&v);
    assert!(
        errs.is_empty(),
        "{} does not validate against schema/document.schema.json: {errs:?}",
        path.display()
    );
    v
}

/// Panic unless every line of an NDJSON findings file validates.
pub fn check_ndjson(path: &Path) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("{}: bad NDJSON line {l:?}: {e}", path.display()));
        check_record(&v);
    }
}

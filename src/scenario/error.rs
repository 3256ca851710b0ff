//! Scenario errors: every message names where the problem is, what was found and what is allowed.

use serde::de::DeserializeOwned;
use std::fmt;

/// A problem with a scenario file or a value that overrides one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioError {
    /// The file could not be read.
    Io {
        /// The file path.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The text is not well-formed JSON.
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the JSON parser expected.
        message: String,
        /// The file, when the scenario was read from one.
        file: Option<String>,
    },
    /// A field has a wrong type, an unknown name, or a value that is not allowed.
    Field {
        /// The JSON path, e.g. `topology.operators[2].parallelism`.
        path: String,
        /// What was found and what is allowed.
        message: String,
    },
}

impl ScenarioError {
    /// A field error at `path`.
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError::Field { path: path.into(), message: message.into() }
    }

    /// The JSON path the error points at, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            ScenarioError::Field { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Io { path, message } => {
                write!(f, "cannot read scenario `{path}`: {message}")
            }
            ScenarioError::Syntax { line, column, message, file } => match file {
                Some(file) => write!(f, "{file} is not valid JSON at line {line}, column {column}: {message}"),
                None => write!(f, "scenario is not valid JSON at line {line}, column {column}: {message}"),
            },
            ScenarioError::Field { path, message } => {
                write!(f, "scenario field `{path}`: {message}")
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Deserializes `text`, reporting the JSON path of a type error and line/column of a syntax error.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, ScenarioError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(v) => {
            // Trailing characters after the document are a syntax error too.
            de.end().map_err(|e| syntax(&e))?;
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let is_syntax =
                matches!(inner.classify(), serde_json::error::Category::Syntax | serde_json::error::Category::Eof);
            match inner.classify() {
                // serde_json reports some type errors (a number where an enum object belongs, an
                // enum object with two keys) as syntax errors: when the text parses as JSON, it
                // is the field's shape that is wrong, at the path serde_path_to_error tracked.
                _ if is_syntax && serde_json::from_str::<serde_json::Value>(text).is_ok() => Err(ScenarioError::Field {
                    path: if path == "." { "(top level)".into() } else { path },
                    message: "has the wrong type or shape here (an enum such as `cost` or `arrival` is an object with exactly one kind, e.g. {\"fixed_us\": 5})".into(),
                }),
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => Err(syntax(&inner)),
                _ => Err(ScenarioError::Field {
                    path: if path == "." { "(top level)".into() } else { path },
                    message: plain_types(&inner.to_string()),
                }),
            }
        }
    }
}

/// serde names Rust types (`expected u64`); say what they mean in a scenario file.
fn plain_types(message: &str) -> String {
    message
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected u32", "expected a non-negative integer below 2^32")
        .replace("expected i64", "expected an integer")
}

fn syntax(e: &serde_json::Error) -> ScenarioError {
    let full = e.to_string();
    // serde_json appends " at line L column C"; we report those separately.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    ScenarioError::Syntax { line: e.line(), column: e.column(), message, file: None }
}
